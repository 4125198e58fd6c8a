"""The command line, the only user of argparse; nothing imports it: main (parser, exit codes),
options (the option groups every command shares), watch, counts, follow, model."""
