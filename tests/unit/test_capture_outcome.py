"""``gdb-hiter capture``'s bookkeeping without gdb: a full disk, wait statuses, the exit table.

The real runs (SIGKILL inside stop(), a real full tmpfs, ...) are in
tests/gdb/test_capture.py; these pin the parts that need no program.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import sys
from pathlib import Path

from gdb_hiter.cli import capture as capture_module
from gdb_hiter.cli.capture import (EXIT_CODES_HELP, EXIT_OK, EXIT_SIGNAL, EXIT_WRITE, _finish, _from_wait_status,
                                   _Sink)

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "unit" / "data" / "capture" / "golden"


def _outcome():
    return {"program_exit": 0, "program_signal": None, "gdb_exit": 0, "write_errors": [], "exit_code": None,
            "result": None}


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_at_the_end_is_one_line_and_exit_6(tmp_path, monkeypatch, capsys):
    (tmp_path / "0001-cgocallback-enter.json").write_text((GOLDEN / "classic-callback-enter.json").read_text())
    monkeypatch.setattr(capture_module, "write_atomic", _full_disk)
    code = _finish(str(tmp_path), _outcome(), EXIT_OK, "the program exited with status 0", [])
    err = capsys.readouterr().err
    assert code == EXIT_WRITE
    assert err.count("\n") == 1 and "index.json: No space left on device" in err and "1 snapshot, 0 C calls, 5.9 kB kept" in err
    assert not (tmp_path / "index.json").exists()


def test_a_report_that_does_not_fit_is_noted_in_the_index(tmp_path, monkeypatch, capsys):
    real = capture_module.write_atomic

    def no_report(path, *args, **kwargs):
        if str(path).endswith("report.md"):
            _full_disk()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(capture_module, "write_atomic", no_report)
    code = _finish(str(tmp_path), _outcome(), EXIT_OK, "the program exited with status 0", [])
    index = json.loads((tmp_path / "index.json").read_text())
    assert code == EXIT_WRITE and index["exit_code"] == EXIT_WRITE
    assert index["write_errors"] == ["report.md: No space left on device"]
    assert capsys.readouterr().err.count("\n") == 1


class _FullStream:
    def write(self, text):
        _full_disk()

    def flush(self):
        _full_disk()

    close = flush


def test_a_log_on_a_full_disk_never_raises(tmp_path, capsys):
    sink = _Sink("gdb.log", _FullStream())
    sink.write("x")
    sink.write("y")
    sink.close()
    assert sink.error == "gdb.log: No space left on device"
    code = _finish(str(tmp_path), _outcome(), EXIT_SIGNAL, "the program was killed by SIGKILL", [sink])
    err = capsys.readouterr().err
    assert code == EXIT_WRITE and "killed by SIGKILL" in err and "gdb.log: No space left on device" in err
    assert json.loads((tmp_path / "index.json").read_text())["write_errors"] == ["gdb.log: No space left on device"]


def test_wait_status_decoding():
    killed = _outcome()
    _from_wait_status(killed, signal.SIGKILL, "/proc")                 # the raw status of a SIGKILLed zombie
    assert killed["program_signal"] == "SIGKILL" and killed["program_status_source"] == "/proc"
    exited = _outcome()
    _from_wait_status(exited, 3 << 8, "/proc")
    assert exited["program_exit"] == 3 and exited["program_signal"] is None


def test_the_exit_table_is_the_same_everywhere():
    """EXIT_CODES_HELP, the module docstring, README.md and docs/capture.md name the same codes."""
    help_codes = set(re.findall(r"^  (\d)  ", EXIT_CODES_HELP, re.M))
    doc_codes = set(re.findall(r"^(\d)     ", capture_module.__doc__, re.M))
    table = (REPO / "docs" / "capture.md").read_text()
    md_codes = set(re.findall(r"^\| (\d) \| ", table, re.M))
    assert help_codes == doc_codes == md_codes == {str(n) for n in range(8)}
    assert "program.out" in table and "exit codes 0–7 in `docs/capture.md`" in (REPO / "README.md").read_text()


def _capture_args(*argv, program="/bin/prog"):
    from gdb_hiter.cli import build_parser
    return build_parser().parse_args(["capture", *argv, "--", program])


def test_limit_goes_to_the_report_never_to_the_capture():
    args = _capture_args("--map", "main.m", "--limit", "5", "--out", "/tmp/out")
    assert capture_module._watch_line(args) == "hiter-watch main.m --out /tmp/out --events cgocall,cgocallback"
    assert args.limit == 5        # ... and reaches ReportOptions (report_options(args).limit)
    from gdb_hiter.cli.report import report_options
    options = report_options(_capture_args("--limit", "0", "--all-calls", "--cfunc", "callC", "--skip-cfunc", "",
                                           "--max-chars", "9000"))
    assert (options.limit, options.all_calls, options.max_chars) == (0, True, 9000)
    assert options.cfuncs == {"callC", "C.callC"} and options.skip_cfuncs == frozenset()
    default = report_options(_capture_args())
    assert (default.limit, default.all_calls, default.max_chars) == (3, False, 60000)
    assert default.cfuncs is None and default.skip_cfuncs == {"C._Cmalloc", "C.free"}


def test_a_bad_report_option_is_a_usage_error_before_gdb_starts(capsys):
    code = capture_module.cmd_capture(_capture_args("--max-chars", "12", program=sys.executable))
    assert code == capture_module.EXIT_USAGE
    assert capsys.readouterr().err == "gdb-hiter: capture: --max-chars 12: at least 500\n"
