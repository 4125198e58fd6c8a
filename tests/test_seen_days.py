"""A model knows the days it was trained on by their counts: `eval` says a series is in-sample
whatever it is called, wherever its days begin, and not for days it never learned from."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_forecast_cmd import run_cli, traffic, write_counts
from trafficwatch.model.checkpoint import load_model, save_checkpoint
from trafficwatch.model.config import LSTMConfig
from trafficwatch.model.lstm import QuantileLSTM
from trafficwatch.model.seen import MIN_MATCHED, SEEN_KEY, day_keys, days_seen, decode, encode

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "series"


def test_days_are_known_at_any_hour_they_begin_and_plain_days_are_not_kept():
    s = traffic(30, 1).to_numpy()
    keys = day_keys(s)
    assert len(keys) == 30
    assert days_seen(s, keys) == 30
    assert days_seen(s[7:24 * 10 + 7], keys) == 9  # moved 7 hours: its whole days still found
    assert days_seen(s[:-1] + 1, keys) == 0  # other counts
    # in other units (a trial's nyc_taxi x1e6 scored as never seen): the same days
    assert days_seen(s * 1e6, keys) == days_seen(s[5:] * 3, keys) + 1 == 30
    # fractions of them too (a trial's x0.5 and x0.01 read as never seen); not a third
    assert days_seen(s * 0.5, keys) == days_seen(np.round(s * 0.01, 12), keys) == 30
    assert days_seen(np.round(s / 3, 12), keys) == 0
    assert days_seen(traffic(30, 2).to_numpy(), keys) == 0  # another series alike
    gappy = s.copy()
    gappy[::24] = np.nan  # a gap in every day: no whole day to tell it by
    assert days_seen(gappy, keys) == 0
    assert len(day_keys(np.tile([0.0, 1.0], 24 * 10))) == 0  # 0s and 1s: no day told apart
    assert np.array_equal(decode(encode(keys)), np.unique(keys))
    assert len(decode("not base64!")) == 0 and len(decode(None)) == 0


@pytest.fixture
def model_of(tmp_path):
    def make(series) -> str:
        torch.manual_seed(0)
        path = tmp_path / "m.pt"
        keys = np.concatenate([day_keys(s.to_numpy()) for s in series])
        save_checkpoint(path, QuantileLSTM(LSTMConfig(window=72, horizon=48, hidden=8)),
                        data={SEEN_KEY: encode(keys)})
        return str(path)
    return make


def test_eval_says_a_series_is_in_sample_by_its_counts_not_its_name(tmp_path, capsys, model_of):
    trained, other = traffic(21, 1, 200.0), traffic(21, 5, 200.0)
    model = model_of([trained])
    assert np.array_equal(decode(load_model(model).data[SEEN_KEY]), decode(load_model(
        str(Path(model).with_suffix(".npz"))).data[SEEN_KEY]))  # the .npz keeps them too
    copy = write_counts(tmp_path / "renamed.csv", trained.index + np.timedelta64(5, "h"),
                        trained.astype(int))  # another name, its hours moved
    code, _, err = run_cli(["eval", str(copy), "--days", "2", "--model", model], capsys)
    assert code == 0 and "lstm:m was trained on it: its scores there are in-sample" in err, err
    mine = write_counts(tmp_path / "mine.csv", other.index, other.astype(int))
    _, _, err = run_cli(["eval", str(mine), "--days", "2", "--model", model], capsys)
    assert "trained on" not in err
    # trained on all but its last 4 days: the days eval scores were held out, not in-sample
    model = model_of([trained.iloc[:-4 * 24]])
    _, _, err = run_cli(["eval", str(copy), "--days", "2", "--model", model], capsys)
    assert "trained on" not in err


def test_eval_names_every_series_in_sample_and_its_json_says_which(tmp_path, capsys, model_of):
    """"7 of these 23 series (s02, s03, s04, ...)" and no word in the JSON: a trial ran each
    series alone to learn which 7. Halved, the counts learned from are known too."""
    import json

    import pandas as pd

    trained = [traffic(21, k, 200.0) for k in (1, 2, 3, 4)]
    model = model_of(trained)
    rows = [pd.DataFrame({"unique_id": name, "ds": s.index.strftime("%Y-%m-%d %H:00"), "y": y})
            for name, s, y in [(f"s{k}", s, s.to_numpy() * (0.5 if k == 3 else 1.0))
                               for k, s in enumerate(trained)]
            + [("new", trained[0], traffic(21, 9, 200.0).to_numpy())]]
    path = tmp_path / "many.csv"
    pd.concat(rows).to_csv(path, index=False)
    code, out, err = run_cli(["eval", str(path), "--days", "2", "--model", model, "--format",
                              "json"], capsys)
    assert code == 0 and "4 of these 5 series (s0, s1, s2, s3): its scores" in err, err
    doc = json.loads(out)
    assert {k: v["in_sample"] for k, v in doc["series"].items()} == {
        "s0": True, "s1": True, "s2": True, "s3": True, "new": False}


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")
def test_a_corpus_series_under_another_name_is_in_sample_for_the_shipped_model(tmp_path, capsys):
    """A trial's copy of WorldCup98 as wc_copy.csv scored in-sample without a word."""
    import pandas as pd

    wc = pd.read_csv(SHARED / "worldcup98_hourly.csv").tail(24 * 20)
    path = tmp_path / "wc_copy.csv"
    wc.to_csv(path, index=False)  # saved again by pandas, under another name
    code, _, err = run_cli(["eval", str(path), "--days", "2"], capsys)
    assert code == 0 and "lstm:default was trained on it" in err, err
    shipped = Path(__file__).resolve().parents[1] / "models" / "default.npz"
    keys = decode(load_model(shipped).data[SEEN_KEY])
    assert days_seen(wc["visits"].to_numpy(float), keys) >= 19 >= MIN_MATCHED
