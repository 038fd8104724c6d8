//! Running code that may panic on damaged input (tantivy reading a
//! corrupted segment, a parser meeting a hostile file) so that the panic
//! becomes an error value with its message, and no panic reaches the user.
//!
//! While a guarded call runs, [`is_guarded`] is true on its thread, so a
//! front end's panic hook can stay quiet for the panics that are caught and
//! reported as errors, and still print the ones that are not.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`; a panic inside it comes back as `Err(message)`.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// True while a [`catch`] runs on this thread.
pub fn is_guarded() -> bool {
    GUARDED.with(|g| g.get() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_guard_is_lifted() {
        assert_eq!(catch(|| 7), Ok(7));
        let err = catch(|| -> u8 {
            assert!(is_guarded());
            panic!("bad segment {}", 3)
        });
        assert_eq!(err, Err("bad segment 3".to_string()));
        assert!(!is_guarded());
    }
}
