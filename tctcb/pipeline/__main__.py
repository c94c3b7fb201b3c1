"""``python -m tctcb.pipeline [--regression NAME] [--output DIR]`` (thin: parses and calls main)."""
import sys

from tctcb.pipeline._cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
