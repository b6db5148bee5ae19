"""mmguard's proxy: an OpenAI-compatible endpoint that guards multimodal requests before any model sees them."""
