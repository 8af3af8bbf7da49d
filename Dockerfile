# syntax=docker/dockerfile:1
# signify-graph: the WebSocket service, its models and pipelines, as one image.
#
#   docker build -t signify-graph .
#   docker run --rm -p 8765:8765 signify-graph          # then open http://localhost:8765/
#
# Behind a TLS-intercepting proxy, give pip the CA bundle as a build secret (never baked in):
#   docker build --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt -t signify-graph .
# Without a registry (podman, a debootstrap base): scripts/container-smoke.
# Settings are environment variables: see .env.example.

ARG BASE_IMAGE=python:3.11-slim

# -- python: the base with Python >= 3.11, venv, and the libraries MediaPipe links ------------
# python:3.11-slim already has Python and venv; a bare Debian bookworm base (debootstrap) gets
# them from apt (bookworm's python3 is 3.11). MediaPipe's libmediapipe.so links libEGL and
# libGLESv2 even on CPU: without them creating a hand landmarker fails.
FROM ${BASE_IMAGE} AS python
RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgles2 \
        $(python3 -c 'import ensurepip, venv' 2>/dev/null || echo python3 python3-venv) \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && python3 -c 'import sys; assert sys.version_info >= (3, 11), "need Python >= 3.11, not " + sys.version'

# -- build: a virtual environment with the runtime dependencies only -----------------------
FROM python AS build
# A mirror: --build-arg PIP_INDEX_URL=https://mirror.example/simple
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
# strip (binutils) stays in this stage: the runtime image has no build tools.
RUN apt-get update && apt-get install -y --no-install-recommends binutils \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY scripts/runtime-requirements scripts/
# mediapipe without its GUI OpenCV and audio dependencies, then everything else (see
# scripts/runtime-requirements): one cv2 in the image, opencv-python-headless. Versions are
# those of constraints.txt, which the tests passed with.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && pip install --no-deps -c constraints.txt "$(python scripts/runtime-requirements --mediapipe)" \
    && python scripts/runtime-requirements > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt
COPY LICENSE ./
COPY signify_graph/ signify_graph/
COPY plugins/ plugins/
# signify_graph/data/ links to these two: the installed package carries copies of them.
COPY models/ models/
COPY pipelines/ pipelines/
# Then trim what the service never loads: pip and setuptools, test suites, onnxruntime's
# Python tooling and its C-API library (the Python binding does not link it: 34 MB), and the
# debug sections of libmediapipe.so (30 MB). The runtime stage's build-time check proves the
# result still loads both models.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && pip install --no-deps . \
    && pip uninstall -y pip setuptools \
    && find /opt/venv -depth -type d \( -name tests -o -name test \) -path '*/site-packages/*' \
        -exec rm -rf {} + \
    && cd /opt/venv/lib/python3*/site-packages \
    && rm -rf onnxruntime/transformers onnxruntime/tools onnxruntime/quantization \
        onnxruntime/capi/libonnxruntime.so.* \
    && strip --strip-unneeded mediapipe/tasks/c/libmediapipe.so
# Prove the promises at build time: one cv2 (headless), the MediaPipe Tasks API importable.
RUN python -c 'import cv2, importlib.metadata as m; \
names = {d.metadata["Name"].lower() for d in m.distributions()}; \
extra = names & {"opencv-contrib-python", "opencv-python", "sounddevice", "torch"}; \
assert not extra, extra; assert "opencv-python-headless" in names; \
from mediapipe.tasks.python import BaseOptions, vision; import onnxruntime, signify_stages; \
print("cv2", cv2.__version__, cv2.__file__)'

# -- runtime: the venv (the package carries the models and pipelines); no pip, not root ----
FROM python AS runtime
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin signify
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    SIGNIFY_SKIP_MEDIAPIPE_DRAWING=1 \
    MALLOC_ARENA_MAX=2
USER signify
# The server never draws: the hands stage keeps mediapipe's drawing helpers (and with them
# matplotlib.pyplot, ~35 MiB of RSS) from loading. MALLOC_ARENA_MAX: glibc gives each worker
# thread its own heap arena; with MediaPipe's landmarkers used on several threads RSS crept up
# by 14.5 MB over a 10-minute soak, by 5.0 MB with two arenas, at the same latency (BENCHMARKS.md,
# "Soak"). Then load every pipeline with its models, as the server will (a broken image fails
# here).
RUN signify-graph validate default fast landmarks symmetric
EXPOSE 8765
# /health on the WebSocket port ($PORT, as Railway sets it; else WEBSOCKET_PORT, else 8765).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('PORT') or os.environ.get('WEBSOCKET_PORT') or '8765'; u.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)"]
STOPSIGNAL SIGTERM
# Exec form: the server is PID 1 and gets SIGTERM itself (it drains sessions, then exits 0;
# with several workers, one per core of the container's CPU quota, PID 1 is their supervisor
# and passes SIGTERM on to every worker).
CMD ["signify-graph", "serve"]
