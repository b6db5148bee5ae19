"""mmguard's proxy: an OpenAI-compatible endpoint that guards multimodal requests before any model sees them."""

import os

# Importing litellm must not reach the network for its model cost map; every module that
# imports litellm lives under this package, so setting it here covers them all.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
