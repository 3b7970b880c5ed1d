"""autoasr: low-code AutoML for speech recognition.

>>> from autoasr import ASRPredictor, load_dataset                      # doctest: +SKIP
>>> train, test = load_dataset("demo", split=("train", "test"))        # doctest: +SKIP
>>> predictor = ASRPredictor(path="runs/demo", domain="digits").fit(train, time_limit=120)  # doctest: +SKIP
"""
from autoasr.data.dataset import DataError, Dataset, Problem, Utterance
from autoasr.data.load import load_dataset

__all__ = ["ASRPredictor", "Dataset", "DataError", "Problem", "Utterance", "load_dataset"]
__version__ = "0.1.0"


def __getattr__(name):
    # the predictor pulls in torch and AutoGluon; import it only when asked for
    if name == "ASRPredictor":
        from autoasr.predictor import ASRPredictor

        return ASRPredictor
    raise AttributeError(name)
