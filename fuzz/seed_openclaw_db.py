#!/usr/bin/env python3
"""Writes the seed of the parse_openclaw_db fuzz target: a small OpenClaw 2.0
agent database (fuzz/corpus/parse_openclaw_db/seed0.sqlite) with live rows,
a zstd-compressed event, one whose recorded length is wrong, and a cold
archive kept in the database. Our own data; frames made by the zstd CLI.
Run from the repository root: python3 fuzz/seed_openclaw_db.py"""
import hashlib, json, os, sqlite3, subprocess

OUT = 'fuzz/corpus/parse_openclaw_db/seed0.sqlite'

def zstd(data: bytes) -> bytes:
    return subprocess.run(['zstd', '-q', '-1', '--check', '-c'], input=data, capture_output=True, check=True).stdout

def msg(i, role, text, ts, **extra):
    m = {'role': role, 'content': [{'type': 'text', 'text': text}], **extra}
    return json.dumps({'type': 'message', 'id': f'm{i}', 'timestamp': ts, 'message': m})

os.makedirs(os.path.dirname(OUT), exist_ok=True)
if os.path.exists(OUT):
    os.remove(OUT)
db = sqlite3.connect(OUT)
db.executescript('''
CREATE TABLE transcript_events(session_id TEXT NOT NULL, seq INTEGER NOT NULL, event_json TEXT,
  created_at INTEGER NOT NULL, event_zstd BLOB, event_utf8_bytes INTEGER, PRIMARY KEY(session_id, seq));
CREATE TABLE session_transcript_cold_archives(session_id TEXT PRIMARY KEY, generation TEXT, archive_name TEXT,
  archive_sha256 TEXT, event_count INTEGER, raw_bytes INTEGER, archive_bytes INTEGER, last_seq INTEGER,
  archived_at INTEGER, storage TEXT, archive_blob BLOB);
''')
rows = [
    json.dumps({'type': 'session', 'version': 3, 'id': 'fz1', 'timestamp': '2026-08-01T08:00:00Z', 'cwd': '/srv/fuzz'}),
    json.dumps({'type': 'model_change', 'modelId': 'gpt-5-mini'}),
    msg(1, 'user', 'check the pump', '2026-08-01T08:00:01Z'),
    msg(2, 'assistant', 'pump ok', '2026-08-01T08:00:02Z', usage={'input': 10, 'output': 2, 'cacheRead': 0, 'cacheWrite': 0}),
]
for seq, e in enumerate(rows):
    db.execute('INSERT INTO transcript_events VALUES (?,?,?,?,NULL,?)', ('fz1', seq, e, 1785571200000 + seq, len(e)))
big = msg(3, 'assistant', 'flow readings: ' + ' '.join(str(n) for n in range(400)), '2026-08-01T08:00:03Z')
db.execute('INSERT INTO transcript_events VALUES (?,?,NULL,?,?,?)', ('fz1', 4, 1785571200004, zstd(big.encode()), len(big.encode())))
db.execute('INSERT INTO transcript_events VALUES (?,?,NULL,?,?,?)', ('fz1', 5, 1785571200005, zstd(big.encode()), len(big.encode()) + 1))
env = [{'kind': 'header', 'version': 1, 'sessionId': 'fz0', 'generation': 'g'},
       {'kind': 'event', 'row': {'seq': 0, 'event_json': msg(1, 'user', 'old question', '2026-07-01T08:00:00Z'), 'created_at': 0}},
       {'kind': 'event', 'row': {'seq': 1, 'event_json': msg(2, 'assistant', 'old answer', '2026-07-01T08:00:01Z'), 'created_at': 0}}]
blob = zstd(''.join(json.dumps(r) + '\n' for r in env).encode())
sha = hashlib.sha256(blob).hexdigest()
db.execute('INSERT INTO session_transcript_cold_archives VALUES (?,?,?,?,?,?,?,?,?,?,?)',
           ('fz0', 'g', sha + '.jsonl.zst', sha, 2, 0, len(blob), 1, 0, 'sqlite', blob))
db.commit()
db.execute('VACUUM')
db.close()
