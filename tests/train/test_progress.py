import io

import pytest

from grukit.train.progress import EpochProgress, format_duration


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    "seconds, text", [(0, "0:00"), (59.6, "1:00"), (75, "1:15"), (3725, "1:02:05"), (-3, "0:00")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_line_shows_bar_count_loss_rate_and_eta():
    progress = EpochProgress(Terminal(), 3, 200, 10)
    line = progress.line(done=5, loss=4.28125, elapsed=2.0)
    assert line == ("  epoch 3/200 [##########..........] 5/10  loss 4.2812  2.5 batch/s  eta 0:02")


def test_draws_in_place_on_a_terminal_and_clears_at_the_end():
    stream = Terminal()
    progress = EpochProgress(stream, 1, 2, 3, refresh=0.0)
    for done in (1, 2, 3):
        progress.update(done, 1.0 / done)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 5  # three redraws, then one blank-out and return
    assert "3/3  loss 0.3333" in text
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""


def test_redraws_at_most_every_refresh_seconds_but_always_the_last_batch():
    stream = Terminal()
    progress = EpochProgress(stream, 1, 1, 100, refresh=3600)
    for done in range(1, 101):
        progress.update(done, 0.5)
    assert stream.getvalue().count("\r") == 2  # the first batch and the last


def test_draws_nothing_when_not_a_terminal_in_a_short_epoch():
    stream = io.StringIO()
    progress = EpochProgress(stream, 1, 1, 3, refresh=0.0)
    progress.update(1, 0.5)
    progress.close()
    assert stream.getvalue() == ""


def test_a_long_epoch_writes_a_line_every_log_every_seconds_when_not_a_terminal():
    stream = io.StringIO()
    progress = EpochProgress(stream, 2, 5, 100, log_every=60.0)
    progress.started -= 130  # 2 min 10 s into the epoch
    for done in (10, 11, 12):
        progress.update(done, 0.5)
    progress.update(100, 0.5)  # the last batch: the epoch's own line says it
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()  # one per minute gone by
    assert lines[0].startswith("  epoch 2/5 [##.")
    assert "10/100  loss 0.5000" in lines[0] and "11/100" in lines[1]
