# weft/__main__.py: `python3 -m weft describe|run ...`, the commands weft
# itself runs to collect Python files and to run a Python op's step.
import sys


def main(argv):
    if len(argv) >= 1 and argv[0] == "describe":
        from weft import _describe
        return _describe.main(argv[1:])
    if len(argv) >= 1 and argv[0] == "run":
        from weft import _run
        return _run.main(argv[1:])
    sys.stderr.write("usage: python3 -m weft describe --root DIR FILE...\n"
                     "       python3 -m weft run FILE FUNCTION\n"
                     "weft runs these itself: see docs/python.md\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
