"""The command line, the only user of argparse; nothing imports it: main (parser, exit codes),
options (the option groups every command shares), watch, counts, follow, model."""
from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The console script as installed before cli/ was a package (`trafficwatch.cli:main`): an
    environment installed then keeps working until it is installed again."""
    from trafficwatch.cli.main import main as run

    return run(argv)
