import io
import re

from noether.core.progress import Progress, progress_line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    with Progress(2000, desc="step", stream=stream, lines=4) as progress:
        for _ in range(2000):
            progress.update()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [re.sub(r" [\d.]+ s$", "", line) for line in lines] == [
        "step 500/2000 (25%)",
        "step 1000/2000 (50%)",
        "step 1500/2000 (75%)",
        "step 2000/2000 (100%)",
    ]
    assert all(re.fullmatch(r"step \d+/2000 \(\d+%\) \d+\.\d s", line) for line in lines)


def test_every_and_a_last_line_for_an_uneven_total():
    stream = io.StringIO()
    progress = Progress(7, desc="molecules", stream=stream, every=3)
    progress.update(2)
    progress.update(2)
    progress.update(3)
    progress.update(0)  # no repeated line at the end
    words = [line.split()[:2] for line in stream.getvalue().splitlines()]
    assert words == [["molecules", "4/7"], ["molecules", "7/7"]]


def test_a_bar_on_a_terminal():
    stream = Terminal()
    with Progress(10, desc="step", stream=stream) as progress:
        progress.update(10)
    assert "\r" in stream.getvalue() and "10/10" in stream.getvalue()


def test_disabled_shows_nothing_but_write_still_prints(capsys):
    stream = io.StringIO()
    with Progress(10, stream=stream, enabled=False) as progress:
        progress.update(10)
        progress.write("done")
    assert stream.getvalue() == ""
    assert capsys.readouterr().out == "done\n"


def test_line_without_total():
    assert progress_line("frames", 12, None, 3.04) == "frames 12 3.0 s"
    assert progress_line("step", 500, 2000, 12.34) == "step 500/2000 (25%) 12.3 s"
