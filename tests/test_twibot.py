"""TwiBot-20 and TwiBot-22 raw layouts: the official sample, hand-made folders, the synthetic twin."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch

from mgbench.datasets import DatasetError, load
from mgbench.datasets.synthetic_raw import (BOT_WORDS, HUMAN_WORDS, TwiBot22SyntheticConfig, generate_twibot22,
                                            open_twibot22_synthetic)
from mgbench.datasets.tasks import DOMAIN, available_tasks
from mgbench.datasets.twibot import (PROFILE_CATEGORICAL, PROFILE_COLUMNS, open_twibot20, open_twibot22,
                                     profile_properties, read_twibot20, read_twibot22)

PUBLISHED_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/twibot20-sample"
needs_sample = pytest.mark.skipif(not (PUBLISHED_SAMPLE / "TwiBot-20_sample.json").is_file(),
                                  reason="TwiBot-20 sample not found beside the repository")


def _relation_pairs(data, relation):
    r = data.relation_names.index(relation)
    src, dst = data.edge_index[:, data.edge_type == r]
    return {(data.user_ids[a], data.user_ids[b]) for a, b in zip(src.tolist(), dst.tolist())}


# --------------------------------------------------------------------------- the official sample

@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A copy of the published sample in a folder marked read-only, as it is published.

    The tests never read the published folder itself: where a checkout's copy of it is
    writable (CI runs as root on a fresh copy), nothing of ours may land there."""
    folder = tmp_path_factory.mktemp("published") / "twibot20-sample"
    folder.mkdir()
    (folder / "TwiBot-20_sample.json").write_bytes((PUBLISHED_SAMPLE / "TwiBot-20_sample.json").read_bytes())
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


@pytest.fixture(scope="module")
def sample_raw(sample):
    return json.loads((sample / "TwiBot-20_sample.json").read_text())


@needs_sample
def test_sample_loads_users_tweets_domains_and_no_bot_labels(sample, sample_raw):
    data = open_twibot20(sample)
    assert data.num_nodes == len(sample_raw) == 100
    assert data.user_ids == [u["ID"] for u in sample_raw]
    assert data.x.shape == (100, len(PROFILE_COLUMNS)) and data.x.dtype == torch.float32
    assert data.categorical_columns == list(PROFILE_CATEGORICAL)
    assert bool((data.y_bot == -1).all()), "the sample has no label field: every user is unlabelled"
    assert [len(t) for t in data.tweets] == [len(u["tweet"] or []) for u in sample_raw]
    for user, row in zip(sample_raw, data.y_domain.tolist()):
        expected = {d.replace("Bussiness", "Business") for d in user["domain"]}
        assert {DOMAIN.labels[i] for i, v in enumerate(row) if v == 1} == expected
    assert all(p is None or p.startswith("http") for p in data.image_paths)
    assert not any(k.startswith("split_") for k in data.keys())
    assert set(available_tasks(data)) == {"bot", "domain"}


@needs_sample
def test_sample_keeps_the_edges_inside_it_and_counts_the_rest(sample, sample_raw):
    ids = {u["ID"] for u in sample_raw}
    inside = {"followers": set(), "friends": set()}
    outside = 0
    for user in sample_raw:
        for key, relation in (("follower", "followers"), ("following", "friends")):
            for other in (user["neighbor"] or {}).get(key) or []:
                if other in ids:
                    inside[relation].add((user["ID"], other))
                else:
                    outside += 1
    data = open_twibot20(sample)
    assert data.relation_names == ["followers", "friends"]
    for relation, pairs in inside.items():
        assert _relation_pairs(data, relation) == pairs
    assert data.edge_index.size(1) == sum(map(len, inside.values())) > 0
    assert data.dropped_edges == outside > 0
    assert sorted(p.name for p in sample.iterdir()) == ["TwiBot-20_sample.json"], \
        "a folder marked read-only is never written to, not even by root"


@needs_sample
def test_sample_given_as_its_file(sample):
    data = read_twibot20(sample / "TwiBot-20_sample.json")
    assert data.num_nodes == 100 and data.dropped_edges > 0


@needs_sample
def test_load_reads_the_sample_from_its_read_only_folder(sample):
    data = load("twibot20", root=sample)
    assert data.num_nodes == 100


# --------------------------------------------------------------------------- hand-made TwiBot-20 folder

def _tw20_user(uid, label=None, following=(), follower=(), tweets=("hi",), domain=("Politics",)):
    user = {"ID": uid, "profile": {"id": f"{uid} ", "screen_name": f"name{uid} ", "followers_count": "10 ",
                                   "friends_count": "5 ", "verified": "True ", "created_at":
                                   "Tue Nov 18 10:27:25 +0000 2008 ", "url": "None "},
            "tweet": list(tweets) if tweets is not None else None,
            "neighbor": {"following": list(following), "follower": list(follower)} if following or follower else None,
            "domain": list(domain)}
    if label is not None:
        user["label"] = label
    return user


def test_twibot20_split_files_give_the_split_labels_and_edges(tmp_path):
    files = {"train.json": [_tw20_user("1", "1", following=["2", "99"]), _tw20_user("2", "0", follower=["1"])],
             "dev.json": [_tw20_user("3", "0", following=["4"], tweets=None)],
             "test.json": [_tw20_user("4", "1", domain=("Bussiness", "Sports"))],
             "support.json": [_tw20_user("5", following=["1", "1"])]}
    for name, users in files.items():
        (tmp_path / name).write_text(json.dumps(users))
    data = open_twibot20(tmp_path)
    assert data.user_ids == ["1", "2", "3", "4", "5"]
    assert data.y_bot.tolist() == [1, 0, 0, 1, -1]
    assert data.split_train.tolist() == [0, 1] and data.split_val.tolist() == [2] and data.split_test.tolist() == [3]
    assert _relation_pairs(data, "friends") == {("1", "2"), ("3", "4"), ("5", "1")}  # duplicate kept once
    assert _relation_pairs(data, "followers") == {("2", "1")}
    assert data.dropped_edges == 1
    assert data.tweets[2] == [] and data.tweets[0] == ["hi"]
    assert data.y_domain[3].tolist() == [0, 1, 0, 1]
    verified = PROFILE_COLUMNS.index("verified")
    assert data.x[:, verified].tolist() == [1.0] * 5


def test_twibot20_rejects_an_unknown_label(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps([_tw20_user("1", "maybe")]))
    with pytest.raises(DatasetError, match="unknown label"):
        read_twibot20(tmp_path)


def test_malformed_json_names_the_file(tmp_path):
    (tmp_path / "train.json").write_text('[{"ID": "1", "profile": ')
    with pytest.raises(DatasetError, match="train.json"):
        read_twibot20(tmp_path)


def test_profile_properties_read_both_layouts():
    v1 = {"followers_count": "1023 ", "friends_count": "0 ", "statuses_count": "7 ", "screen_name": "abc ",
          "verified": "False ", "default_profile_image": "True ", "created_at": "Tue Nov 18 10:27:25 +0000 2008 "}
    v2 = {"username": "abc", "public_metrics": {"followers_count": 1023, "following_count": 0, "tweet_count": 7},
          "verified": False, "created_at": "2008-11-18T10:27:25.000Z",
          "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"}
    (row1, t1), (row2, t2) = profile_properties(v1), profile_properties(v2)
    assert row1 == row2 and t1 == t2
    props = dict(zip(PROFILE_COLUMNS, row1))
    assert props["followers_count"] == pytest.approx(10.0)  # log2(1 + 1023)
    assert props["screen_name_length"] == 3 and props["default_profile_image"] == 1.0


# --------------------------------------------------------------------------- TwiBot-22

SMALL = TwiBot22SyntheticConfig(num_users=40, tweets_per_user=4, corrupt_images=2, seed=3)


@pytest.fixture(scope="module")
def tw22_folder(tmp_path_factory):
    return generate_twibot22(SMALL, tmp_path_factory.mktemp("tw22") / "data")


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_synthetic_twibot22_round_trip(tw22_folder):
    nodes = json.loads((tw22_folder / "node.json").read_text())
    users = [n for n in nodes if n["id"].startswith("u")]
    texts = {n["id"]: n["text"] for n in nodes if n["id"].startswith("t")}
    edges = _csv(tw22_folder / "edge.csv")
    data = read_twibot22(tw22_folder, "twibot22-synthetic")
    assert data.user_ids == [u["id"] for u in users]
    labels = {r["id"]: r["label"] for r in _csv(tw22_folder / "label.csv")}
    assert data.y_bot.tolist() == [int(labels[u] == "bot") for u in data.user_ids]
    posts = {}
    for e in edges:
        if e["relation"] == "post":
            posts.setdefault(e["source_id"], []).append(texts[e["target_id"]])
    assert data.tweets == [posts.get(u, []) for u in data.user_ids]
    split = {r["id"]: r["split"] for r in _csv(tw22_folder / "split.csv")}
    for part, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        assert sorted(data.user_ids[i] for i in data[f"split_{part}"].tolist()) == \
            sorted(u for u, s in split.items() if s == name)
    follows = {(e["source_id"], e["target_id"]) for e in edges if e["relation"] == "following"}
    ids = set(data.user_ids)
    assert _relation_pairs(data, "friends") == {(a, b) for a, b in follows if a != b and b in ids}
    author = {e["target_id"]: e["source_id"] for e in edges if e["relation"] == "post"}
    mentions = {(author[e["source_id"]], e["target_id"]) for e in edges if e["relation"] == "mentioned"}
    assert _relation_pairs(data, "mention") == {(a, b) for a, b in mentions if a != b}
    assert data.dropped_edges == 2  # the two edges to accounts outside the data
    assert data.relation_names[:2] == ["followers", "friends"]
    present = [p for p in data.image_paths if p is not None]
    assert present and all(Path(p).is_file() for p in present)


def test_synthetic_tweets_carry_the_planted_signal(tw22_folder):
    data = read_twibot22(tw22_folder)
    own, other = 0, 0
    for y, tweets in zip(data.y_bot.tolist(), data.tweets):
        words = " ".join(tweets).split()
        mine, theirs = (BOT_WORDS, HUMAN_WORDS) if y == 1 else (HUMAN_WORDS, BOT_WORDS)
        own += sum(w in mine for w in words)
        other += sum(w in theirs for w in words)
    assert own > 0 and other == 0


def test_twibot22_user_json_with_tweet_files_and_author_ids(tmp_path):
    (tmp_path / "user.json").write_text(json.dumps([
        {"id": "u1", "username": "a", "public_metrics": {"followers_count": 3}, "profile_image_url": "pics/a.png"},
        {"id": "u2", "username": "b"}]))
    (tmp_path / "tweet_0.json").write_text(json.dumps([{"id": "t1", "text": "one", "author_id": "1"},
                                                       {"id": "t2", "text": "two", "author_id": 2}]))
    (tmp_path / "edge.csv").write_text("source_id,relation,target_id\nu1,followers,u2\nt2,replied_to,t1\n"
                                       "u2,membership,l5\n")
    (tmp_path / "label.csv").write_text("id,label\nu1,bot\nu2,human\n")
    data = read_twibot22(tmp_path)
    assert data.tweets == [["one"], ["two"]]
    assert _relation_pairs(data, "followers") == {("u1", "u2")}
    assert _relation_pairs(data, "reply") == {("u2", "u1")}
    assert data.dropped_edges == 1  # the list membership
    assert data.y_bot.tolist() == [1, 0]
    assert data.image_paths == [str((tmp_path / "pics/a.png").resolve()), None]
    assert not any(k.startswith("split_") for k in data.keys())
    assert read_twibot22(tmp_path, max_tweets_per_user=0).tweets == [[], []]


def test_processed_cache_is_reused_and_invalidated(tw22_folder, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("node.json", "edge.csv", "label.csv", "split.csv"):
        (folder / name).write_bytes((tw22_folder / name).read_bytes())
    first = open_twibot22(folder)
    cached = list((folder / "processed").glob("*.pt"))
    assert len(cached) == 1
    again = open_twibot22(folder)
    assert again.tweets == first.tweets and torch.equal(again.edge_index, first.edge_index)
    rows = (folder / "label.csv").read_text().replace(",human", ",bot")
    (folder / "label.csv").write_text(rows)
    os.utime(folder / "label.csv", ns=(1, 1))
    changed = open_twibot22(folder)
    assert bool((changed.y_bot == 1).all())
    for entry in (folder / "processed").glob("*.pt"):
        entry.write_bytes(b"not a torch file")
    assert torch.equal(open_twibot22(folder).y_bot, changed.y_bot)


def test_a_folder_marked_read_only_is_not_written_to(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps([_tw20_user("1", "0")]))
    tmp_path.chmod(0o555)
    try:
        assert open_twibot20(tmp_path).num_nodes == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["train.json"]
    finally:
        tmp_path.chmod(0o755)


def test_load_twibot22_from_a_folder(tw22_folder, tmp_path):
    folder = tmp_path / "twibot22"
    folder.mkdir()
    for name in ("node.json", "edge.csv", "label.csv", "split.csv"):
        (folder / name).write_bytes((tw22_folder / name).read_bytes())
    data = load("twibot22", root=tmp_path)
    assert data.num_nodes == SMALL.num_users and len(data.tweets) == SMALL.num_users


def test_load_generates_twibot22_synthetic(tmp_path):
    data = load("twibot22-synthetic", root=tmp_path, num_users=20, seed=1)
    assert data.num_nodes == 20


def test_open_twibot22_synthetic_generates_once(tmp_path):
    first = open_twibot22_synthetic(tmp_path, num_users=15, seed=2)
    (folder,) = (tmp_path / "twibot22-synthetic").iterdir()
    stamp = (folder / "node.json").stat().st_mtime_ns
    second = open_twibot22_synthetic(tmp_path, num_users=15, seed=2)
    assert (folder / "node.json").stat().st_mtime_ns == stamp
    assert second.tweets == first.tweets
    with pytest.raises(ValueError, match="unknown twibot22-synthetic option"):
        open_twibot22_synthetic(tmp_path, users=3)
