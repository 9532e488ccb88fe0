"""Run the ``thuman`` CLI in-process from tests."""
from thuman.cli.main import main


def run_cli(argv, capsys):
    """Run ``thuman ARGV`` in-process; return (exit status, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
