"""Layer 4, using a trained model: the saved model format, ``TrainedModel`` and long recordings.
Imports no training code: a deployed model needs none."""
