"""The profile block: MGTAB's 20 properties from a raw Twitter profile, and their standardisation.

Properties (:func:`profile_properties`, used by the TwiBot readers): MGTAB's 10
numerical properties, *unscaled* (counts as ``log2(1 + count)``, lengths in
characters, account age in days), then 10 flags (0/1), from TwiBot-20 profiles
(v1.1 fields as strings) or TwiBot-22 users (API v2 fields, counts in
``public_metrics``). This module imports nothing else of mgbench, so that the
data layer's readers can use it.

Standardisation (:func:`standardise_profile`):

MGTAB min-max scales each numerical property to [0, 1] over the dataset (its
``Standardization/`` notes list the per-column minimum and maximum; counts are
on a log scale first) and leaves the boolean properties as 0/1. That is the
default here. ``zscore`` (mean 0, standard deviation 1) is offered for models
that prefer centred inputs; ``none`` keeps the block as loaded.

The statistics are taken over all nodes, labelled or not, as MGTAB does: they
use no label, so no test label leaks. Both maps are per-column affine, so
applying one to a block that was already scaled (MGTAB's own files) gives the
same result as applying it to the raw properties.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import torch

SCALINGS = ("minmax", "zscore", "none")

NUMERICAL_PROPERTIES = ("followers_count", "friends_count", "listed_count", "account_age_days",
                        "favourites_count", "statuses_count", "screen_name_length", "name_length",
                        "description_length", "followers_friends_ratio")
CATEGORICAL_PROPERTIES = ("verified", "protected", "default_profile", "default_profile_image", "geo_enabled",
                          "profile_use_background_image", "has_extended_profile", "has_url", "has_location",
                          "has_pinned_tweet")
#: The profile block's columns: MGTAB's 10 numerical properties, then 10 flags.
PROFILE_COLUMNS = NUMERICAL_PROPERTIES + CATEGORICAL_PROPERTIES
PROFILE_CATEGORICAL = tuple(range(len(NUMERICAL_PROPERTIES), len(PROFILE_COLUMNS)))


def clean_value(value: Any) -> Any:
    """TwiBot-20 stores every profile value as a string with a trailing space ("True ", "None ")."""
    if isinstance(value, str):
        value = value.strip()
        if value in ("", "None", "null"):
            return None
    return value


def _flag(value: Any) -> float:
    value = clean_value(value)
    if isinstance(value, str):
        return 1.0 if value.lower() == "true" else 0.0
    return 1.0 if value else 0.0


def _count(value: Any) -> float:
    value = clean_value(value)
    try:
        number = float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def _timestamp(value: Any) -> float | None:
    """Seconds since the epoch from Twitter v1.1 ("Tue Nov 18 10:27:25 +0000 2008") or ISO dates."""
    value = clean_value(value)
    if not isinstance(value, str):
        return None
    for parse in (lambda s: datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y"), datetime.fromisoformat):
        try:
            stamp = parse(value)
        except ValueError:
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp()
    return None


def profile_field(profile: Mapping[str, Any], name: str, *aliases: str) -> Any:
    """A profile field in either layout: TwiBot-22 keeps the counts under ``public_metrics``."""
    metrics = profile.get("public_metrics") or {}
    for key in (name, *aliases):
        for source in (profile, metrics):
            if key in source and clean_value(source[key]) is not None:
                return source[key]
    return None


def profile_properties(profile: Mapping[str, Any]) -> tuple[list[float], float | None]:
    """The :data:`PROFILE_COLUMNS` values of one user (account age filled in later) and its creation time.

    Works on TwiBot-20 profiles (v1.1 fields as strings) and TwiBot-22 users
    (API v2 fields, counts in ``public_metrics``); a field the layout lacks is 0.
    """
    counts = {
        "followers_count": _count(profile_field(profile, "followers_count")),
        "friends_count": _count(profile_field(profile, "friends_count", "following_count")),
        "listed_count": _count(profile_field(profile, "listed_count")),
        "favourites_count": _count(profile_field(profile, "favourites_count", "like_count")),
        "statuses_count": _count(profile_field(profile, "statuses_count", "tweet_count")),
    }
    text = {key: str(clean_value(profile_field(profile, key, *alias)) or "")
            for key, alias in (("screen_name", ("username",)), ("name", ()), ("description", ()))}
    image = str(clean_value(profile_field(profile, "profile_image_url", "profile_image_url_https")) or "")
    default_image = profile_field(profile, "default_profile_image")
    numerical = {
        **{k: math.log2(1.0 + v) for k, v in counts.items()},
        "account_age_days": 0.0,
        "screen_name_length": float(len(text["screen_name"])),
        "name_length": float(len(text["name"])),
        "description_length": float(len(text["description"])),
        "followers_friends_ratio": math.log2(1.0 + counts["followers_count"] / (1.0 + counts["friends_count"])),
    }
    flags = {
        "verified": _flag(profile_field(profile, "verified")),
        "protected": _flag(profile_field(profile, "protected")),
        "default_profile": _flag(profile_field(profile, "default_profile")),
        "default_profile_image": (_flag(default_image) if default_image is not None
                                  else float("default_profile_images" in image)),
        "geo_enabled": _flag(profile_field(profile, "geo_enabled")),
        "profile_use_background_image": _flag(profile_field(profile, "profile_use_background_image")),
        "has_extended_profile": _flag(profile_field(profile, "has_extended_profile")),
        "has_url": float(profile_field(profile, "url") is not None),
        "has_location": float(profile_field(profile, "location") is not None),
        "has_pinned_tweet": float(profile_field(profile, "pinned_tweet_id") is not None),
    }
    row = [numerical[k] for k in NUMERICAL_PROPERTIES] + [flags[k] for k in CATEGORICAL_PROPERTIES]
    return row, _timestamp(profile_field(profile, "created_at"))


def profile_matrix(rows: list[list[float]], created: list[float | None]) -> torch.Tensor:
    """Stack the rows; account age in days counts back from the newest account in the data."""
    x = torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(PROFILE_COLUMNS))
    known = [c for c in created if c is not None]
    if known:
        newest = max(known)
        age = PROFILE_COLUMNS.index("account_age_days")
        x[:, age] = torch.tensor([(newest - c) / 86_400.0 if c is not None else 0.0 for c in created])
    return x


def standardise_profile(block: torch.Tensor, categorical_columns: Sequence[int] = (),
                        method: str = "minmax") -> torch.Tensor:
    """Scale the numerical columns of ``block`` [N, P] by ``method``; categorical columns stay as they are.

    A constant column becomes 0 rather than NaN.
    """
    if method not in SCALINGS:
        raise ValueError(f"unknown profile scaling {method!r}; available: {', '.join(SCALINGS)}")
    out = block.to(torch.float32).clone()
    if method == "none" or out.size(0) == 0:
        return out
    numerical = [c for c in range(out.size(1)) if c not in set(categorical_columns)]
    cols = out[:, numerical]
    if method == "minmax":
        low = cols.min(dim=0).values
        span = cols.max(dim=0).values - low
        cols = (cols - low) / torch.where(span > 0, span, torch.ones_like(span))
    else:
        std = cols.std(dim=0, unbiased=False)
        cols = (cols - cols.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))
    out[:, numerical] = cols
    return out
