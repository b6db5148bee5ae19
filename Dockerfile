# mmguard: the same steps as the README's Quick start install.
FROM python:3.11-slim

RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tesseract-ocr fonts-liberation fonts-freefont-ttf \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 mmguard
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY bench ./bench
COPY policies ./policies
# torch==2.13.0 from PyPI is a CUDA build on x86_64; for the CPU build, pass the PyTorch CPU wheel index:
#   docker build --build-arg PIP_EXTRA_INDEX_URL=<PyTorch CPU wheel index> -t mmguard .
ARG PIP_EXTRA_INDEX_URL=
RUN PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" pip install --no-cache-dir .

USER mmguard
ENV MMGUARD_HOST=0.0.0.0 MMGUARD_PORT=8000 LITELLM_LOCAL_MODEL_COST_MAP=True
# Build the int8 encoder (proxy/classifier/quantized.py) into the user's cache now, so a container starts in seconds.
RUN mmguard check --text "warm the encoder cache" > /dev/null
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"MMGUARD_PORT\",\"8000\")}/healthz', timeout=2)"
CMD ["mmguard", "serve"]
