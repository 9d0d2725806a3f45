"""The console examples of README.md and docs/*.md, run: each shown output is what its command prints.

A console example is a ```text block with commands on lines starting with ``$ ``; the lines
after a command, up to the next command or the end of the block, are what it prints (standard
output and error, as a terminal shows them: laid out in 80 columns, no colour). Commands run
in a POSIX shell from the repository root, ``convlint`` being this checkout's
``python -m analyzer``, so pipes (``| head -n 5``) work.

    python docs/examples.py          # check: a diff and exit code 1 when an example is stale
    python docs/examples.py --write  # write every command's output into its block

tests/test_docs.py runs the check; after a change to what convlint prints, ``--write``
brings the documents up to date (review the diff).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```text\n(\$ .*?)^```$", re.M | re.S)
SHELL = 'convlint() { "$CONVLINT_PYTHON" -m analyzer "$@"; }\n'


@dataclass
class Example:
    document: Path
    command: str
    shown: list[str]


def examples(document: Path) -> list[Example]:
    found = []
    for block in BLOCK.finditer(document.read_text()):
        for part in re.split(r"^\$ ", block.group(1), flags=re.M)[1:]:
            command, *shown = part.rstrip("\n").split("\n")
            found.append(Example(document, command, shown))
    return found


def every_example() -> list[Example]:
    return [example for document in DOCUMENTS for example in examples(document)]


def run(command: str) -> list[str]:
    """What ``command`` prints, line by line (trailing blanks and blank lines dropped)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run(["sh", "-c", SHELL + command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env={**environment, "CONVLINT_PYTHON": sys.executable, "TERM": "dumb"},
                          timeout=600, check=False)
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def rewritten(document: Path) -> str:
    """The document with every console example's output as its command prints it now."""
    def block(match: re.Match[str]) -> str:
        parts = re.split(r"^\$ ", match.group(1), flags=re.M)[1:]
        commands = [part.split("\n", 1)[0] for part in parts]
        body = "".join(f"$ {command}\n" + "".join(line + "\n" for line in run(command)) for command in commands)
        return f"```text\n{body}```"

    return BLOCK.sub(block, document.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Rewrite the outputs in place.")
    args = parser.parse_args()
    stale = 0
    for document in DOCUMENTS:
        text = document.read_text()
        new = rewritten(document)
        if new == text:
            continue
        stale += 1
        if args.write:
            document.write_text(new)
            print(f"rewrote {document.relative_to(ROOT)}")
        else:
            name = str(document.relative_to(ROOT))
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), new.splitlines(True), name, name))
    return 1 if stale and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
