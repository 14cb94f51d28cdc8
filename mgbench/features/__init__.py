"""Features: profile properties, text encoder, image encoder, fusion, and the recipes that combine them.

``build_features(data, recipe)`` turns a loaded graph into a run's node
features; the encoders are usable on their own (``encode_texts``,
``encode_images``), and the fusion modules are trained with a model.
"""

from .cache import FeatureCache
from .extras import MissingExtraError
from .fusion import TextGuidedImageAttention, concat_blocks
from .image import DEFAULT_IMAGE_ENCODER, ImageEncoding, encode_images, load_image_encoder
from .profile import SCALINGS, standardise_profile
from .recipes import RECIPES, build_features
from .text import (DEFAULT_TEXT_ENCODER, TweetAttentionPooling, encode_texts, encode_tweet_sets, encode_tweets,
                   load_text_encoder, pool_tweets, tweet_owner)

__all__ = [
    "DEFAULT_IMAGE_ENCODER", "DEFAULT_TEXT_ENCODER", "FeatureCache", "ImageEncoding", "MissingExtraError", "RECIPES",
    "SCALINGS",
    "TextGuidedImageAttention", "TweetAttentionPooling", "build_features", "concat_blocks", "encode_images",
    "encode_texts", "encode_tweet_sets", "encode_tweets", "load_image_encoder", "load_text_encoder",
    "pool_tweets", "standardise_profile", "tweet_owner",
]
