"""mmguard-sim: a SIMULATED multimodal model for demos and tests. It is not a real model.

It reproduces, with documented parameters, the failure MM-SafetyBench and
FigStep report for real MLLMs: a text-level safety check that refuses overtly
harmful text but never looks at the text it read in the image. Its answers are
templates; a "compliant" answer is a list of placeholder steps, never real
harmful content. See ``proxy/simulator/model.py`` for the behaviour and its
parameters, and ``proxy/simulator/provider.py`` for how litellm reaches it.
"""
