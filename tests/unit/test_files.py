"""core/files.py: writes never replace a device, FIFO or planted link; reads refuse what is not a regular file."""

import os
import stat
import subprocess
import sys

import pytest

from gdb_hiter.cli import loader
from gdb_hiter.core.files import UnsafePath, open_new_text, read_regular, write_atomic
from gdb_hiter.core.messages import one_line


def _device(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return node


def test_a_device_is_refused_and_stays_a_device(tmp_path):
    node = _device(tmp_path)
    with pytest.raises(UnsafePath, match="is a character device, not a regular file"):
        write_atomic(node, "x")
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert os.listdir(tmp_path) == ["null"]


def test_a_fifo_and_a_directory_are_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="is a FIFO"):
        write_atomic(fifo, "x")
    with pytest.raises(UnsafePath, match="is a directory"):
        write_atomic(tmp_path, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "secret.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    assert write_atomic(target, ["new ", b"text"]) == 8
    assert target.read_text() == "new text"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_a_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o640


def test_a_symlink_is_written_through_to_its_regular_target(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert os.path.islink(link) and real.read_text() == "new"


def test_a_symlink_to_a_device_or_nowhere_is_refused(tmp_path):
    node = _device(tmp_path)
    link = tmp_path / "stdout"
    link.symlink_to(node)
    with pytest.raises(UnsafePath, match="symbolic link to a character device"):
        write_atomic(link, "x")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafePath, match="which does not exist"):
        write_atomic(dangling, "x")
    assert not (tmp_path / "nowhere").exists()


def test_a_link_planted_in_a_capture_directory_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for name in ("index.json", "gdb.log"):
        (tmp_path / name).symlink_to(victim)
    with pytest.raises(UnsafePath, match="symbolic link; refusing to follow it"):
        write_atomic(tmp_path / "index.json", "x", follow_symlinks=False)
    with pytest.raises(UnsafePath, match="symbolic link; refusing to follow it"):
        open_new_text(tmp_path / "gdb.log", encoding="utf-8")
    assert victim.read_text() == "precious"


def test_open_new_text_truncates_a_regular_file_and_refuses_a_fifo(tmp_path):
    log = tmp_path / "gdb.log"
    log.write_text("an older run's log, longer than the new one")
    with open_new_text(log, encoding="utf-8") as stream:
        stream.write("new")
    assert log.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="is a FIFO"):
        open_new_text(fifo, encoding="utf-8")


def test_read_regular_refuses_devices_fifos_and_big_files(tmp_path):
    with pytest.raises(UnsafePath, match="is a character device"):
        read_regular("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePath, match="is a FIFO"):   # no writer: a blocking open would hang here
        read_regular(fifo)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(UnsafePath, match="is 101 bytes; the limit is 100"):
        read_regular(big, limit=100)
    assert read_regular(big, limit=101) == b"x" * 101


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *args], capture_output=True, text=True,
                          timeout=60, input=stdin)


@pytest.mark.parametrize("command", [["show", "/dev/zero"], ["diff", "/dev/zero", "/dev/zero"],
                                     ["redact", "/dev/zero", "out.json", "--salt", "s"]])
def test_offline_commands_refuse_a_device_in_one_line(command, tmp_path):
    result = subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *command], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "gdb-hiter: /dev/zero: cannot read: is a character device, not a regular file\n"
    assert not (tmp_path / "out.json").exists()


def test_offline_show_of_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "snap.json"
    os.mkfifo(fifo)
    result = _cli("show", str(fifo))
    assert (result.returncode, result.stderr) == (2, f"gdb-hiter: {fifo}: cannot read: is a FIFO, not a regular file\n")


@pytest.fixture
def sample_snapshot_path(tmp_path):
    from gdb_hiter.core.snapshot.document import write_snapshot
    from test_snapshot import sample_classic
    path = tmp_path / "in.json"
    write_snapshot(sample_classic()[0], path)
    return path


def test_redact_to_a_device_is_refused_and_dash_is_stdout(tmp_path, sample_snapshot_path):
    node = _device(tmp_path)
    refused = _cli("redact", str(sample_snapshot_path), str(node), "--salt", "s")
    assert refused.returncode == 2
    assert refused.stderr == f"gdb-hiter: {node}: cannot write: is a character device, not a regular file\n"
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    to_file = tmp_path / "r.json"
    assert _cli("redact", str(sample_snapshot_path), str(to_file), "--salt", "s").returncode == 0
    to_stdout = _cli("redact", str(sample_snapshot_path), "-", "--salt", "s")
    assert to_stdout.returncode == 0 and to_stdout.stdout == to_file.read_text()


def test_error_lines_are_one_line_and_cut():
    assert one_line("a\x1b[31mb\rc\nd") == "a\\x1b[31mb\\rc\\nd"
    cut = one_line("x" * 5_000_000)
    assert len(cut) == 400 and cut.endswith("…")


def test_the_loader_is_not_rewritten_when_up_to_date(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "loader_dir", lambda: tmp_path / "share")
    path = loader.write_loader()
    os.chmod(path, 0o444)
    os.chmod(path.parent, 0o555)   # a read-only shared install
    try:
        before = os.stat(path).st_ino
        assert loader.write_loader() == path and os.stat(path).st_ino == before
    finally:
        os.chmod(path.parent, 0o755)


def test_gdbinit_install_keeps_bytes_and_quotes_a_path_with_a_space(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "loader_dir", lambda: tmp_path / "with space" / "share")
    gdbinit = tmp_path / "gdbinit"
    gdbinit.write_bytes(b"set history save on\n# caf\xe9 in latin-1\n")
    assert loader.install_in_gdbinit(gdbinit) is True
    text = gdbinit.read_bytes()
    assert text.startswith(b"set history save on\n# caf\xe9 in latin-1\n")
    assert text.endswith(f'directory "{tmp_path}/with space/share"\n'.encode())
    assert loader.install_in_gdbinit(gdbinit) is False


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "cannot read {p}: is a directory, not a regular file"),
    (lambda p: None, "cannot write {p}: No such file or directory"),
    (lambda p: p.symlink_to(p.parent / "nowhere"), "{p} is a symbolic link to {d}/nowhere, which does not exist"),
])
def test_gdbinit_install_refuses_in_one_line(tmp_path, make, message):
    target = tmp_path / "gdbinit"
    make(target)
    if "No such file" in message:
        target = tmp_path / "missing-dir" / "gdbinit"
    with pytest.raises(loader.LoaderError) as raised:
        loader.install_in_gdbinit(target)
    assert str(raised.value) == message.format(p=target, d=tmp_path)
    assert not (tmp_path / "nowhere").exists()
