"""Export a trained model to one self-contained file (ONNX or TorchScript) and run exported files.

The exported graph goes from raw waveforms to CTC log-probabilities: the frontend is rebuilt from
plain tensor operations (framing by index, a windowed DFT as a matrix product, the mel filterbank
and DCT matrices of torchaudio as constants), so nothing but ONNX operators runs at inference time.
It matches torchaudio's ``MelSpectrogram``/``MFCC`` to float precision (``tests/test_export.py``).

Graph inputs and outputs (batch and time axes are dynamic)::

    waveform          float32 (batch, samples)  mono, at the sample rate in the metadata, zero padded
    waveform_lengths  int64   (batch,)          the real number of samples of each row
    log_probs         float32 (batch, frames, vocabulary)
    frame_lengths     int64   (batch,)          valid output frames of each row

The vocabulary (index 0 is the CTC blank) and the frontend settings travel in the ONNX
``metadata_props`` (``autoasr.vocabulary``, ``autoasr.frontend``, ...) and in the TorchScript extra
file ``autoasr.json``; a lexicon + n-gram LM decoder chosen for the model travels as its plain-data
spec (``autoasr.decoder``). Conformers are exported through an equivalent attention written with
plain operations (PyTorch's own freezes the batch size into the graph). A frozen Whisper encoder is exported
the same way, its weights in the file (:mod:`autoasr.export.whisper_graph`): its graph reads clips of up to
30 s (``max_seconds`` in ``autoasr.frontend``); :class:`~autoasr.export.runtime.ExportedModel` cuts longer
recordings first. Pretrained recognizers used as they are (zero-shot rows) write text and are refused. Running an exported file
needs only onnxruntime and numpy (greedy decoding)::

    >>> import json, numpy, onnxruntime                                        # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("digits.onnx")                 # doctest: +SKIP
    >>> meta = session.get_modelmeta().custom_metadata_map                    # doctest: +SKIP
    >>> symbols = json.loads(meta["autoasr.vocabulary"])                      # doctest: +SKIP
    >>> inputs = {"waveform": samples[None], "waveform_lengths": numpy.array([len(samples)])}  # doctest: +SKIP
    >>> log_probs, lengths = session.run(None, inputs)                        # doctest: +SKIP

or, with this package, ``OnnxModel("digits.onnx").transcribe(["clip.wav"])``.
"""
