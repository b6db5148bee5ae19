"""mmguard's proxy: an OpenAI-compatible endpoint that guards multimodal requests before any model sees them."""

import os

# Importing litellm must not reach the network for its model cost map; every module that
# imports litellm lives under this package, so setting it here covers them all.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def quiet_litellm():
    """litellm, told to keep quiet: no "Give Feedback / Get Help" banner on every failed call (the error says what
    failed, once), and no telemetry. Imported on first use, not with this package: importing it takes seconds."""
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm
