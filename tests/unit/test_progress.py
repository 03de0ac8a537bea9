"""Progress lines of the long rules (smdownscale.progress), against a fake clock."""

from __future__ import annotations

import pytest

from smdownscale.progress import Progress, format_bytes, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(total, unit="days", **kwargs):
    clock, lines = FakeClock(), []
    p = Progress("harmonise 2010-097", total, lines.append, unit=unit, clock=clock, **kwargs)
    return p, clock, lines


def test_first_line_names_the_total_and_steps_of_ten_percent_give_done_rate_and_time_left():
    p, clock, lines = make(20)
    assert lines == ["harmonise 2010-097: 0 of 20 days"]
    clock.t += 4
    p.advance()  # 5 %: not yet due
    assert len(lines) == 1
    clock.t += 4
    p.advance()  # 10 %: 2 days in 8 s
    assert (
        lines[-1] == "harmonise 2010-097: 2 of 20 days (10 %), 15.0 days/min, about 1 min 12 s left"
    )
    for _ in range(7):
        clock.t += 4
        p.advance()
    # 20 %, 30 %, 40 % crossed; 9 of 20 = 45 %: no line between the steps
    assert [line.split(":")[1].split(" (")[0] for line in lines[1:]] == [
        " 2 of 20 days",
        " 4 of 20 days",
        " 6 of 20 days",
        " 8 of 20 days",
    ]
    assert lines[-1].endswith("about 48 s left")


def test_a_slow_job_reports_every_interval_between_steps():
    p, clock, lines = make(1000, unit="stations")
    for _ in range(5):
        clock.t += 29
        p.advance()
    # 5 stations of 1000 (0.5 %): lines at 30 s intervals only (after 58 s and 116 s)
    assert len(lines) == 3
    assert lines[1] == (
        "harmonise 2010-097: 2 of 1,000 stations (0 %), 2.07 stations/min, about 8 h 02 min left"
    )
    assert lines[2].startswith("harmonise 2010-097: 4 of 1,000 stations (0 %)")


def test_a_big_jump_writes_one_line_and_the_end_writes_the_time_taken():
    p, clock, lines = make(100, unit="cell-days")
    clock.t += 10
    p.advance(55)  # crosses 10 .. 50 %: one line
    assert len(lines) == 2 and "55 of 100 cell-days (55 %)" in lines[-1]
    clock.t += 1
    p.advance(4)  # 59 %: below the next step (60 %)
    assert len(lines) == 2
    clock.t += 9
    p.advance(41)  # complete: the last line
    assert lines[-1] == "harmonise 2010-097: 100 of 100 cell-days (100 %) in 20 s, 5.00 cell-days/s"
    p.advance(3)  # after the end: nothing more
    p.finish()
    assert len(lines) == 3


def test_unknown_total_reports_done_and_rate_only():
    p, clock, lines = make(None, unit="granules")
    assert lines == ["harmonise 2010-097: started"]
    for _ in range(3):
        clock.t += 20
        p.advance(2)
    assert lines[1:] == ["harmonise 2010-097: 4 granules, 6.00 granules/min"]
    clock.t += 5
    p.finish()
    assert lines[-1] == "harmonise 2010-097: 6 granules in 1 min 05 s, 5.54 granules/min"


def test_bytes_are_sizes_and_rates_per_second():
    p, clock, lines = make(40 * 2**20, unit="bytes", step=0.25)
    assert lines[0] == "harmonise 2010-097: 0 of 40.0 MiB"
    clock.t += 5
    p.advance(12 * 2**20)
    assert (
        lines[-1] == "harmonise 2010-097: 12.0 MiB of 40.0 MiB (30 %), 2.40 MiB/s, about 12 s left"
    )


def test_iterate_counts_each_item_after_it_is_processed_and_finishes():
    clock, lines = FakeClock(), []
    p = Progress("predict", 3, lines.append, unit="blocks", clock=clock, start=False)
    seen = []
    for block in p.iterate([10, 20, 30]):
        seen.append((block, p.done))
        clock.t += 2
    assert seen == [(10, 0), (20, 1), (30, 2)]
    assert lines[-1] == "predict: 3 of 3 blocks (100 %) in 6 s, 30.0 blocks/min"
    weighted = Progress("w", 60, lines.append, unit="rows", clock=clock, start=False)
    list(weighted.iterate([slice(0, 20), slice(20, 60)], weight=lambda s: s.stop - s.start))
    assert weighted.done == 60


def test_an_empty_job_and_bad_arguments():
    p, clock, lines = make(0)
    p.finish()
    assert lines == ["harmonise 2010-097: 0 of 0 days", "harmonise 2010-097: 0 of 0 days in 0 s"]
    for kwargs in ({"total": -1}, {"total": 5, "step": 0}, {"total": 5, "interval_s": 0}):
        with pytest.raises(ValueError):
            Progress("x", emit=print, **kwargs)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0 s"), (59.6, "1 min 00 s"), (200, "3 min 20 s"), (7500, "2 h 05 min")],
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_sizes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3.4 * 2**20) == "3.40 MiB"
    assert format_bytes(1.5 * 2**30) == "1.50 GiB"
