//! Raw mode and the alternate screen, entered and always left: on return,
//! on error (the guard's drop), on panic (a hook that restores the terminal
//! before the panic message prints, so it is readable), and on SIGTERM or
//! SIGHUP (the process-wide handler in `cli::signal` calls [`restore`]
//! before it exits).

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};

/// The real terminal: ratatui over crossterm on stdout.
pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// Holds the terminal in UI mode; restores it when dropped.
pub struct Screen {
    /// The terminal to draw on.
    pub terminal: Tty,
}

impl Screen {
    /// Enters raw mode and the alternate screen, and installs a panic hook that restores them.
    pub fn enter() -> io::Result<Screen> {
        install_panic_hook();
        // Half-entered states (raw mode on, no alternate screen) are undone too.
        let undo = |e: io::Error| {
            let _ = restore();
            e
        };
        raw_on().map_err(undo)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout())).map_err(undo)?;
        Ok(Screen { terminal })
    }

    /// Hands the terminal to another program (the editor) and takes it back.
    pub fn suspend<T>(&mut self, f: impl FnOnce() -> T) -> io::Result<T> {
        restore()?;
        let out = f();
        raw_on()?;
        self.terminal.clear()?;
        Ok(out)
    }

    /// Writes bytes straight to the terminal (an OSC 52 copy).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Whether this process has the terminal in UI mode right now.
static ACTIVE: AtomicBool = AtomicBool::new(false);

fn raw_on() -> io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)
}

/// Leaves raw mode and the alternate screen if the UI had entered them;
/// otherwise does nothing (writes no escape into a pipe), so any signal
/// handler or hook in the process may call it. Safe to call more than once.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let raw = disable_raw_mode();
    execute!(io::stdout(), LeaveAlternateScreen, Show)?;
    raw
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}
