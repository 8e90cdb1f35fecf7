#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, taken from the crates' own tests and docs.

Reads the Rust string literals ("...", r#"..."#, b"...") of the source files each target's
decoder is tested with, keeps those that look like that decoder's input, and writes each one as
a file named by its SHA-1 into OUT/TARGET. The committed seeds in fuzz/seeds/TARGET are copied
beside them. Run from anywhere: extract_seeds.py OUT
"""

import hashlib
import json
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}


def literals(src):
    """Yields the string literals of Rust source text, unescaped."""
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if src.startswith("\\", i + 1):
                j = src.find("'", i + 2)
                i = n if j < 0 else j + 1
            elif i + 2 < n and src[i + 2] == "'":
                i += 3
            else:
                i += 1
        elif c == "r" and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")) and (
            src.startswith('r"', i) or src.startswith("r#", i)
        ):
            j = i + 1
            while j < n and src[j] == "#":
                j += 1
            if j >= n or src[j] != '"':
                i += 1
                continue
            close = '"' + "#" * (j - i - 1)
            end = src.find(close, j + 1)
            if end < 0:
                return
            yield src[j + 1 : end]
            i = end + len(close)
        elif c == '"':
            out, j = [], i + 1
            while j < n and src[j] != '"':
                if src[j] == "\\" and j + 1 < n:
                    e = src[j + 1]
                    if e in ESCAPES:
                        out.append(ESCAPES[e])
                        j += 2
                    elif e == "x":
                        out.append(chr(int(src[j + 2 : j + 4], 16)))
                        j += 4
                    elif e == "u":
                        end = src.find("}", j)
                        out.append(chr(int(src[j + 3 : end], 16)))
                        j = end + 1
                    elif e == "\n":
                        j += 2
                        while j < n and src[j] in " \t\n\r":
                            j += 1
                    else:
                        out.append(e)
                        j += 2
                else:
                    out.append(src[j])
                    j += 1
            yield "".join(out)
            i = j + 1
        else:
            i += 1


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def anything(text):
    return len(text) > 0


def json_with(word):
    return lambda text: word in text and is_json(text)


# target -> (files or globs under the repository, which literals to keep)
SOURCES = {
    "zinc_read": (["haystack-zinc/tests/*.rs", "haystack-zinc/src/**/*.rs", "examples/tests/data/**/*.zinc"], anything),
    "zinc_round_trip": (["haystack-zinc/tests/*.rs", "haystack-zinc/src/**/*.rs", "examples/tests/data/**/*.zinc"], anything),
    "scalar": (["haystack-core/src/zinc/*.rs", "haystack-core/tests/*.rs", "haystack-zinc/tests/zinc_vectors.rs"], anything),
    "trio_read": (["haystack-zinc/tests/trio_vectors.rs", "haystack-zinc/src/trio/*.rs"], anything),
    "trio_round_trip": (["haystack-zinc/tests/trio_vectors.rs", "haystack-zinc/src/trio/*.rs"], anything),
    "hayson_read": (["haystack-core/tests/json.rs", "haystack-core/src/json/*.rs"], is_json),
    "hayson_stream": (["haystack-core/tests/json_stream.rs", "haystack-core/tests/json.rs", "haystack-core/src/json/*.rs"], is_json),
    "hayson_round_trip": (["haystack-core/tests/json.rs", "haystack-core/src/json/*.rs"], is_json),
    "json_v3_read": (["haystack-core/tests/json.rs", "haystack-core/src/json/*.rs"], is_json),
    "json_v3_round_trip": (["haystack-core/tests/json.rs", "haystack-core/src/json/*.rs"], is_json),
    "filter_parse": (["haystack-core/tests/filter.rs", "haystack-core/src/filter/*.rs", "examples/tests/haystack_server.rs"], anything),
    "filter_round_trip": (["haystack-core/tests/filter.rs", "haystack-core/src/filter/*.rs"], anything),
    "filter_eval": (["haystack-core/tests/filter.rs", "haystack-core/src/filter/*.rs"], anything),
    "cart_request": (["cart-core/src/model.rs", "cart-core/tests/*.rs", "examples/tests/cart_server*.rs"], anything),
    "http_range": ([], anything),
    "haystack_request": (["examples/tests/haystack_server.rs", "examples/tests/haystack_hostile.rs"], anything),
    "package_database_item": ([], anything),
    "datasource_state": (["datasource-sdk/src/state.rs", "datasource-sdk/tests/runner.rs"], json_with("version")),
}

# Inputs whose literals are too large to be useful seeds.
MAX_SEED_BYTES = 64 << 10


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus"
    only = set(sys.argv[2:])
    for target, (patterns, keep) in SOURCES.items():
        if only and target not in only:
            continue
        dest = out / target
        dest.mkdir(parents=True, exist_ok=True)
        count = 0
        for pattern in patterns:
            for path in sorted(ROOT.glob(pattern)):
                text = path.read_text(encoding="utf-8")
                found = [text] if path.suffix != ".rs" else literals(text)
                for lit in found:
                    data = lit.encode("utf-8")
                    if keep(lit) and len(data) <= MAX_SEED_BYTES:
                        (dest / hashlib.sha1(data).hexdigest()).write_bytes(data)
                        count += 1
        committed = ROOT / "fuzz" / "seeds" / target
        if committed.is_dir():
            for seed in sorted(committed.iterdir()):
                shutil.copyfile(seed, dest / seed.name)
                count += 1
        print(f"{target}: {count} seeds into {dest}")


if __name__ == "__main__":
    main()
