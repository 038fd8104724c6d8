#!/usr/bin/env python3
"""Keystroke-to-results latency of the terminal UI, on a real pseudo-terminal.

Starts `cass` (the TUI) in a private tmux server on DATA_DIR, then for each
word: clears the query (Ctrl-U), types the word at once (`send-keys -l`, as a
paste) and polls the screen until the results line of that query appears
("N of M hits · X ms · mode"). Every word is typed twice: the first round
includes reading its postings and vectors from disk, the second is warm.
The time includes the UI's debounce, the search, and drawing; polling
tmux adds a few milliseconds.

    python3 benches/tui_latency.py target/release/cass DATA_DIR WORD...

Used for the 10M row of docs/PERFORMANCE.md ("Scale").
"""
import re
import subprocess
import sys
import time

cass, data, words = sys.argv[1], sys.argv[2], sys.argv[3:]
TMUX = ["tmux", "-L", "cass-tui-latency"]


def tmux(*args):
    return subprocess.run(TMUX + list(args), capture_output=True, text=True).stdout


def results_line():
    m = re.search(r"\d+ of \d+ hits · [0-9.]+ ms · \S+", tmux("capture-pane", "-p"))
    return m.group(0) if m else None


subprocess.run(TMUX + ["kill-server"], capture_output=True)
tmux("new-session", "-d", "-x", "200", "-y", "50", f"env CASS_DATA_DIR={data} {cass}")
start = time.time()
while "Type to search" not in tmux("capture-pane", "-p"):
    if time.time() - start > 30:
        sys.exit("the UI did not start")
    time.sleep(0.05)
for rnd in ("first", "warm"):
    lat = []
    for word in words:
        tmux("send-keys", "C-u")
        time.sleep(0.5)
        before = results_line()
        t0 = time.perf_counter()
        tmux("send-keys", "-l", word)
        line = None
        while time.perf_counter() - t0 < 10:
            line = results_line()
            if line and line != before:
                break
        ms = (time.perf_counter() - t0) * 1e3
        lat.append(ms)
        print(f"{rnd} {word}: {ms:.0f} ms [{line}]")
    lat.sort()
    print(f"{rnd} round: p50 {lat[len(lat) // 2]:.0f} ms, max {lat[-1]:.0f} ms over {len(lat)} words")
tmux("kill-server")
