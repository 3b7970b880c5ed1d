"""Write the guided notebooks (without outputs) from the cell texts below: edit here, then run

    python notebooks/build_notebooks.py

Each notebook has a papermill ``parameters`` cell (``time_limit`` and the data to use), so it runs
headless top to bottom: ``papermill 01_quickstart.ipynb out.ipynb -p time_limit 30``.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, parameters: bool = False, hide: bool = False):
    cell = new_code_cell(text.strip())
    if parameters:
        cell.metadata["tags"] = ["parameters"]
    if hide:
        cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


WER = """
**Word error rate (WER)** is how speech recognition is scored. Align what the model wrote (the
*hypothesis*) with what was said (the *reference*) and count the words it had to **s**ubstitute,
**d**elete and **i**nsert: `WER = (S + D + I) / words in the reference`. 0 % is perfect; 100 % means
as many errors as words (it can even exceed 100 % with many insertions). Example: reference
*"go left now"*, hypothesis *"go lift"* → one substitution + one deletion over three words = 67 %.
"""

SEARCH = """
**What a search does.** AutoML does not train one model: it tries many *configurations* — a model
family (CRNN, Conformer, convolutional CTC), its size, learning rate, dropout, data augmentation,
batch size, audio features — each as a **trial**. Every trial reports its WER on held-out *tuning*
clips after each epoch. It starts with a few configurations known to work well, then samples new
ones; trials that fall behind the median stop early so their time goes to new ideas. The best trial
becomes the model you use.
"""

LISTENER = """
**A pretrained listener.** The search starts from Whisper tiny.en, a model that has heard 680,000 hours of
speech: it keeps Whisper's *encoder* (its ears) frozen and trains small heads on your clips, which takes
seconds. It comes from the local Hugging Face cache, from a copy your teacher set up (`AUTOASR_PRETRAINED`), or is
downloaded once (about 155 MB). Without a network the search trains from scratch and the first line of its
output says why. `pretrained = None` below trains from scratch on purpose: compare the two!
"""

BUDGET = """
**Why budgets matter.** The `time_limit` is a promise for the whole `fit`: preparing features,
training and the final check. More time buys more trials and longer training, so usually a lower
WER — but with diminishing returns, and a budget that is too small may not finish even one model.
"""

GLOSSARY = """
*New words* (WER, CER, epoch, tuning set, pruned, plateau, deadline, presets, RTF, size) are explained
in the [glossary](../docs/glossary.md).
"""


def quickstart():
    return [
        md("""
# 1 · Quickstart: a speech recogniser in five cells

You will train and compare several speech-recognition models on a small corpus of spoken digits
and commands, watch the search live, and use the winner to transcribe audio. No ASR knowledge
needed: you only decide the **data**, a **time budget** and a **domain**.
""" + LISTENER + WER + GLOSSARY),
        code("""
time_limit = 180   # seconds for the whole search (try 60 for a first look, 600 for a better model)
data = "demo"      # "demo" (spoken offline by eSpeak NG), a manifest file or a corpus folder
domain = "commands"
pretrained = "auto"   # "auto": start from Whisper tiny.en (cached, or downloaded once); None: from scratch
""", parameters=True),
        md("""
## 1. Data
The demo corpus is synthesized on first use (a few seconds): voices say digits, digit strings and
commands. The *test* speakers are never heard in training, so the test WER tells how the model does
on new voices.
"""),
        code("""
from autoasr import ASRPredictor, load_dataset

train, test = load_dataset(data, split=("train", "test"))
train.summary(), test.summary()
"""),
        md("## 2. Search, live\n" + SEARCH + "\nThe first line says which pretrained listener the search starts from "
           "(or why it trains from scratch); the table and the curves below update while the search runs."),
        code("""
from widgets import LiveProgress

progress = LiveProgress()
display(progress)
predictor = ASRPredictor(path="autoasr_runs/quickstart", domain=domain, verbosity=0)
predictor.fit(train, time_limit=time_limit, pretrained=pretrained, callbacks=[progress]);
"""),
        md("## 3. The leaderboard: one row per trial, best first"),
        code("""
predictor.leaderboard()[["trial_id", "model", "size", "val_wer", "epochs", "train_seconds", "stop_reason"]]
"""),
        md("""
## 4. How good is it on new voices?
`evaluate` transcribes the test set with the best model and scores it.
"""),
        code("""
result = predictor.evaluate(test, return_details=True)
print(f"test WER {result['wer']:.1%}  (substitutions {result['substitutions']}, deletions {result['deletions']}, "
      f"insertions {result['insertions']}, {result['num_utterances']} utterances)")
"""),
        md("## 5. Listen and transcribe"),
        code("""
from IPython.display import Audio

clip = result["utterances"][0]
display(Audio(clip["audio"]))
print("said:", clip["reference"], "| model wrote:", predictor.transcribe([clip["audio"]])[0])
"""),
        md("""
### Prefer clicking?
The same flow as a wizard — data, budget and domain, Start/Stop, results, errors, transcription —
is one call away (it is also served as a web page by `make app`):
"""),
        code("""
from widgets import build_app

build_app(data=data, minutes=max(time_limit / 60, 0.25))
"""),
        md("""
**Next:** `02_bring_your_own_data` (your recordings), `03_compare_and_understand` (why one model
wins), `04_domain_and_budget`, `05_use_and_export`.
"""),
    ]


def bring_your_own_data():
    return [
        md("""
# 2 · Bring your own data

Speech recognition learns from **audio clips paired with transcripts**. autoasr reads them from a
*manifest* — a CSV file with a header:

| audio | text | speaker *(optional)* | split *(optional)* |
|---|---|---|---|
| clips/0001.wav | turn the lights on | anna | train |
| clips/0002.wav | stop | ben | test |

`audio` is a path relative to the manifest (or absolute); any sample rate or channel count works
(audio is mixed to mono and resampled to 16 kHz). JSON Lines manifests (`audio_filepath`, `text`)
and some corpus folders are recognised too (listed below). **Rows with problems are skipped and
reported by file and row**, so one broken file never stops a run.

This notebook builds a small "your data" folder from demo clips — with a few deliberate mistakes —
so you can see what autoasr reports. Set `data` to your own manifest or folder to use yours.
""" + GLOSSARY),
        code("""
time_limit = 120      # seconds for the search at the end
data = None           # your manifest / corpus folder; None builds an example from `source`
source = "demo"       # where the example's clips come from
""", parameters=True),
        code("""
from autoasr.data.layouts import LAYOUTS

for layout in LAYOUTS:
    print(f"{layout.name:12s} {layout.description}")
"""),
        md("## An example folder, with three mistakes"),
        code("""
import csv
import shutil
from pathlib import Path

from autoasr import load_dataset

if data is None:
    clips = list(load_dataset(source))[:80]
    folder = Path("autoasr_runs/my_corpus")
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    rows = []
    for number, utterance in enumerate(clips):
        shutil.copyfile(utterance.audio, folder / "clips" / f"{number:04d}.wav")
        rows.append({"audio": f"clips/{number:04d}.wav", "text": utterance.text, "speaker": utterance.speaker,
                     "split": utterance.split})
    (folder / "clips" / "broken.wav").write_text("this is not audio")
    rows += [{"audio": "clips/missing.wav", "text": "go", "speaker": "x", "split": "train"},   # file missing
             {"audio": "clips/0000.wav", "text": "  ", "speaker": "x", "split": "train"},      # no transcript
             {"audio": "clips/broken.wav", "text": "stop", "speaker": "x", "split": "train"}]  # not audio
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["audio", "text", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    data = str(folder / "manifest.csv")
print(Path(data).read_text()[:300] if Path(data).is_file() else data)
"""),
        md("""
## What is in it, and what is wrong with it
Check the data before training: how many clips and hours, how many speakers (a model trained on
three voices will struggle with a fourth), which characters occur, and which rows were skipped.
"""),
        code("""
import importlib.util

dataset = load_dataset(data)
if importlib.util.find_spec("autoasr.inspection"):      # the `autoasr inspect` report
    from autoasr.data.inspection import inspect_dataset

    print(inspect_dataset(dataset).to_text())
else:
    print(dataset.summary())
print(f"\\n{len(dataset.problems)} rows skipped:")
for problem in dataset.problems:
    print(" ", problem)
"""),
        md("""
The same in the data picker of the wizard (step 1), with a histogram of clip lengths. It also takes
an uploaded **zip** (saved and extracted in a folder of its own; entries that would escape it are
refused).
"""),
        code("""
from widgets.data_picker import DataPicker
from widgets.session import Session

picker = DataPicker(Session(output="autoasr_runs/byod"), data=data)
picker.load()
picker.widget
"""),
        md("""
## Train on it
Without a `split` column, `fit` holds out a *tuning* set itself (whole speakers when there are many,
else some clips of each speaker) to measure WER while it searches.
"""),
        code("""
from autoasr import ASRPredictor
from widgets import LiveProgress

train = dataset.subset([u for u in dataset if u.split != "test"], "my data: train")
progress = LiveProgress()
display(progress)
predictor = ASRPredictor(path="autoasr_runs/byod", domain="general", verbosity=0)
predictor.fit(train, time_limit=time_limit, callbacks=[progress])
predictor.leaderboard()[["trial_id", "model", "size", "val_wer", "epochs", "stop_reason"]]
"""),
    ]


def compare_and_understand():
    return [
        md("""
# 3 · Compare and understand

A leaderboard tells you *which* model won; the plots here tell you *why*, and what you would trade
for a smaller or faster model. Then the error explorer lets you listen to the clips the model gets
wrong.
""" + SEARCH + GLOSSARY),
        code("""
time_limit = 240
data = "demo"
domain = "commands"
presets = "default"   # "default" searches; "single" trains one configuration (the honest baseline)
""", parameters=True),
        code("""
from autoasr import ASRPredictor, load_dataset
from autoasr.results import plots
from widgets import LiveProgress

train, test = load_dataset(data, split=("train", "test"))
progress = LiveProgress()
display(progress)
predictor = ASRPredictor(path="autoasr_runs/compare", domain=domain, verbosity=0)
predictor.fit(train, time_limit=time_limit, presets=presets, callbacks=[progress]);
"""),
        md("""
## The leaderboard (★ marks the model `transcribe` uses)
A row marked **pretrained** started from a speech encoder that has heard 680,000 hours of speech; its *size*
says what learned from your clips: `pooled`, a classifier of your words on the encoder's output; `pooled_tuned`,
that classifier and the encoder's top layer; `pooled_mix`, a classifier on the average of all its layers;
`tiny` or `small`, a head that spells letters (it can write words it never heard). A row marked **zero-shot**
is a pretrained recogniser used as it is (Whisper, PocketSphinx): what you would get *without training*, scored
on the same tuning clips. A trained row has to beat it to be worth its minutes. With a few dozen clips the
winner is trained once more on all of them, the tuning clips too: that **refit** row leads the table with the
scores of the trial it copies (hover over a row's mark to read what it is).
"""),
        code("""
from IPython.display import HTML
from widgets.leaderboard import leaderboard_html
from widgets.style import CSS

board, history = predictor.leaderboard(), predictor.history()
HTML(CSS + leaderboard_html(board, best_trial_id=predictor.best_trial_id))
"""),
        md("""
## Which words does each model get wrong?
Counted on the tuning clips, most frequent first: *said* is the word in the transcript, *written* what the
model wrote instead (*missed*: it wrote nothing; an empty *said*: a word it added). Two words that keep
being swapped sound alike to this model: more takes of them, or a pretrained row, usually help.
"""),
        code("""
for row in board[board["status"] == "ok"].head(3).itertuples():
    print(f"trial {row.trial_id} ({row.model}): {row.val_wer:.1%} of the tuning words wrong")
    display(predictor.word_errors(row.trial_id).head(8))
"""),
        md("""
## The race
Best validation WER found so far against time. Long flat stretches mean extra budget did not help;
a curve still falling at the end means more time would.
"""),
        code("plots.search_race(history)"),
        md("""
## Learning curves
One line per trial: WER after each epoch. Lines that stop early were stopped — they reached a plateau
or were worse than the median of earlier trials at the same epoch (the *median stopping rule*).
"""),
        code("plots.learning_curves(history)"),
        md("""
## Accuracy against cost
A model that is 1 % better but ten times slower may not be the one you want on a phone. Every
finished trial was timed transcribing one typical clip on one CPU thread (`latency_ms`, `rtf`) and
sized (`size_mb`). The **Pareto front** joins the trials no other trial beats on both latency and WER;
`predictor.select_best(max_latency_ms=...)` makes the most accurate model within a limit the best one
(`fit(..., max_latency_ms=...)` does it during the search).
"""),
        code("plots.wer_vs_training_time(board)"),
        code("""
display(plots.wer_vs_cost(board, "latency_ms"))
predictor.pareto_front("latency_ms")[["trial_id", "model", "size", "val_wer", "decoder", "latency_ms", "rtf", "size_mb"]]
"""),
        md("""
## Which settings mattered?
Each line is a trial through its settings, coloured by WER. Settings that the dark (good) lines
share are the ones that mattered for this data.
"""),
        code("plots.hyperparameters(board)"),
        md("""
## What kinds of errors?
On the test set: **substitutions** (a wrong word), **deletions** (a word missed), **insertions** (a
word added). Many deletions often mean the model is still young (it emits too little); many
substitutions mean confusable words.
"""),
        code("""
finished = board[board["status"] == "ok"].head(3)
results = {f"{row.trial_id} {row.model}": predictor.evaluate(test, model=row.trial_id, return_details=True)
           for row in finished.itertuples()}
plots.error_breakdown(results)
"""),
        md("""
## Listen to the errors
Pick an utterance: hear it, and see the reference aligned with what the model wrote (jiwer's word
alignment — the same one WER counts). The tables list the hardest speakers and the most-missed words.
"""),
        code("""
from widgets.error_explorer import ErrorExplorer, worst_speakers, worst_words
from widgets.session import Session

best = results[next(iter(results))]["utterances"]
display(worst_speakers(best), worst_words(best))
ErrorExplorer(Session.from_results(predictor, test)).widget
"""),
    ]


def domain_and_budget():
    return [
        md("""
# 4 · Domain and budget

Two of your three decisions. The **domain** says what kind of speech this is; the **budget** says how
long the search may take.

## Domains
The domain changes how transcripts are normalised before training and scoring (and which settings
suit the speech):
""" + GLOSSARY),
        code("""
time_limit = 180      # the largest budget of the sweep below, in seconds
data = "demo"
domain = "commands"
sweep = [0.25, 0.5, 1.0]   # budgets of the sweep, as shares of time_limit
""", parameters=True),
        code("""
from IPython.display import HTML
from autoasr.domains.presets import DOMAINS
from autoasr.core.text import normalize_text
from widgets.domain_picker import describe_domains

display(HTML(describe_domains()))
for name in DOMAINS:
    print(f"{name:9s} 'Call 911, now!' -> {normalize_text('Call 911, now!', DOMAINS[name].normalizer)!r}")
"""),
        md("""
In the wizard the domain is a click, with a box for a custom vocabulary or typical sentences of your
domain (product names, commands):
"""),
        code("""
from widgets.budget_picker import BudgetPicker, detect_hardware, estimate_trials
from widgets.domain_picker import DomainPicker
from widgets.session import Session

session = Session(output="autoasr_runs/budget")
DomainPicker(session, domain=domain).widget
"""),
        md("## Budgets\n" + BUDGET + """
The budget picker shows the hardware found and roughly how many trials a budget buys:
"""),
        code("""
print(detect_hardware())
for minutes in (1, 3, 10, 30):
    print(f"{minutes:3d} min -> about {estimate_trials(minutes * 60, 'default')} trials (fewest, most)")
BudgetPicker(session, minutes=time_limit / 60).widget
"""),
        md("""
## A small budget sweep
The same search at a few budgets, each scored on the test set. Expect the WER to fall quickly and
then flatten: the first minutes matter most. (A budget too small to finish a model shows as a gap.)
The sweep takes a few minutes: the line above the panel says which budget is running, and the panel
shows its data preparation, its trials and their learning curves as they happen.
"""),
        code("""
import time

import ipywidgets
import pandas
import plotly.express as px

from autoasr import ASRPredictor, load_dataset
from widgets import LiveProgress

train, test = load_dataset(data, split=("train", "test"))
sweep_status, progress = ipywidgets.HTML(), LiveProgress()
display(sweep_status, progress)
rows = []
for number, share in enumerate(sweep, start=1):
    budget = time_limit * share
    sweep_status.value = f"<b>Budget {number} of {len(sweep)}: {budget:.0f} s</b>"
    progress.reset()
    predictor = ASRPredictor(path=f"autoasr_runs/budget/{budget:.0f}s", domain=domain, verbosity=0)
    started = time.time()
    try:
        predictor.fit(train, time_limit=budget, callbacks=[progress])
        test_wer = predictor.evaluate(test)["wer"]
    except RuntimeError as error:   # no model finished within this budget
        print(f"{budget:.0f} s: {error}")
        test_wer = float("nan")
    rows.append({"budget_seconds": budget, "test_wer": test_wer, "trials": len(predictor.leaderboard()),
                 "fit_seconds": time.time() - started})
sweep_status.value = f"<b>Sweep finished: {len(sweep)} budgets.</b>"
sweep_results = pandas.DataFrame(rows)
sweep_results
"""),
        code("""
figure = px.line(sweep_results, x="budget_seconds", y="test_wer", markers=True, hover_data=["trials"],
                 title="Test WER against time budget", labels={"budget_seconds": "budget (seconds)",
                                                               "test_wer": "test WER"})
figure.update_yaxes(tickformat=".0%", rangemode="tozero")
"""),
        md("""
`fit_seconds` stays within each budget: the `time_limit` is a promise, data preparation and the final
evaluation included.
"""),
    ]


def use_and_export():
    return [
        md("""
# 5 · Use and export

A trained model is only useful if you can use it later: transcribe new audio, save it, reload it in
another session, and hand it to an application that has never heard of autoasr.
""" + GLOSSARY),
        code("""
time_limit = 120
data = "demo"
domain = "commands"
model_dir = None      # a finished run to reuse (e.g. "autoasr_runs/quickstart"); None trains one now
""", parameters=True),
        md("When no finished run is given, one is trained now; the panel shows it as it happens."),
        code("""
from autoasr import ASRPredictor, load_dataset
from widgets import LiveProgress

train, test = load_dataset(data, split=("train", "test"))
if model_dir is None:
    model_dir = "autoasr_runs/use_and_export"
    progress = LiveProgress()
    display(progress)
    ASRPredictor(path=model_dir, domain=domain, verbosity=0).fit(train, time_limit=time_limit, callbacks=[progress])
"""),
        md("""
## Save and reload
Everything a run learns is already on disk under its path, as it happens (weights as safetensors:
loading them runs no code). `save()` writes the leaderboard and a copy of the best model; `load()`
reopens the run — in this session or any later one.
"""),
        code("""
predictor = ASRPredictor.load(model_dir)
print(predictor.save(), "| best trial:", predictor.best_trial_id)
predictor.leaderboard()[["trial_id", "model", "size", "val_wer"]].head()
"""),
        md("""
## Transcribe
Give paths (WAV, FLAC, OGG, MP3, a phone's M4A, a browser's WebM; any sample rate) or arrays of
**16 kHz mono** samples; pick any trial with `model=`. To get such an array from a file, read it with
autoasr's `read_audio`: it mixes to mono and resamples (raw samples of a 44.1 kHz file would give wrong
words without an error).
"""),
        code("""
from autoasr.data.audio import read_audio

clips = [u.audio for u in list(test)[:5]]
for utterance, text in zip(list(test)[:5], predictor.transcribe(clips)):
    print(f"{utterance.audio.name:18s} said: {utterance.text:20s} model: {text}")

samples = read_audio(clips[0])   # float32, mono, 16 kHz, whatever the file was
predictor.transcribe(samples)
"""),
        md("Or with clicks — pick a clip or upload one, hear it, and compare models side by side:"),
        code("""
from widgets.session import Session
from widgets.transcribe_panel import TranscribePanel

panel = TranscribePanel(Session.from_results(predictor, test))
panel.transcribe()
panel.widget
"""),
        md("""
## Long recordings, with word times
A recording of any length is cut at its pauses, each piece is transcribed in order, and CTC
alignment gives every word a start and end time. Here: twelve test clips joined with pauses.
"""),
        code("""
import numpy as np
from autoasr.data.audio import read_audio
from autoasr.inference.long_audio import transcribe_with_words

pause = np.zeros(int(0.6 * 16000), dtype=np.float32)
pieces = [read_audio(u.audio) for u in list(test)[:12]]
recording = np.concatenate([part for piece in pieces for part in (piece, pause)])
timed = transcribe_with_words(predictor, [recording])[0]
print(f"{timed.duration:.1f} s of audio")
print("said :", " ".join(u.text for u in list(test)[:12]))
print("heard:", timed.text)
[(w.word, round(w.start, 2), round(w.end, 2)) for w in timed.words[:8]]
"""),
        md("""
## Export
`autoasr.export` writes the model to **one file** (ONNX or TorchScript) that goes from waveform to
text without autoasr: ONNX needs only `onnxruntime` and `numpy`. The same is on the command line:
`autoasr export MODEL_DIR --format onnx --output model.onnx`; `autoasr transcribe model.onnx clip.wav`
uses it.
"""),
        code("""
from autoasr.export.writers import export_model
from autoasr.export.runtime import load_exported

exported = export_model(predictor, f"{model_dir}/model.onnx", format="onnx")
print("exported", exported, f"({exported.stat().st_size / 1e6:.1f} MB)")
print("ONNX runtime transcribes:", load_exported(exported).transcribe(clips[:3]))
print("PyTorch transcribes:     ", predictor.transcribe(clips[:3]))
"""),
        md("""
## The model card
Every saved run carries a **model card** (`MODEL_CARD.md`, `model_card.json`): the data it learned
from, the domain, the budget, the searched space and the chosen settings, validation and test
scores, the hardware and package versions, and what the model is and is not fit for. The run card
(`run_card.json`) records the data fingerprint and seeds, so the run can be traced and repeated.
"""),
        code("""
from IPython.display import Markdown

predictor.evaluate(test)   # recorded with the run: the card now shows test scores too
predictor.save()
Markdown((predictor.path / "MODEL_CARD.md").read_text())
"""),
        md("""
## Take it with you
On Binder or a served page the run's folder is out of reach, so the files come as download links in the
page: the HTML report, the best model as a zip (unzip it and `ASRPredictor.load(folder)` transcribes) and
the ONNX file.
"""),
        code("""
from widgets.downloads import DownloadsPanel

downloads = DownloadsPanel(Session.from_results(predictor, test))
files = downloads.prepare()
print("ready to download:", ", ".join(path.name for path in files.values()))
downloads.widget
"""),
    ]


def your_own_voice():
    return [
        md("""
# 6 · Your own voice: record, train, try it live

Teach a model **your** words. You choose 5–10 short words, say each about five times into your
microphone, train for two or three minutes, then speak to the model and watch it write what it heard.
At the end you see which words it mixes up, and why that happens.

You need a microphone and a browser that lets this page use it (JupyterLab, Binder or `make app`
over https:// or on localhost). No microphone? Set `fake_microphone = "espeak"` below: eSpeak NG
then says the words for you.
""" + GLOSSARY),
        code("""
time_limit = 150           # seconds of training (2-3 minutes is enough for a handful of words)
words = "yes, no, left, right, stop, go"   # your words: 5-10 short ones that sound different
takes = 5                  # takes of each word; the last round is kept aside to test
fake_microphone = None     # None: your microphone. "espeak", or a manifest/folder of clips of the words
pretrained = "auto"        # "auto": start from Whisper tiny.en (cached, or downloaded once); None: from scratch
""", parameters=True),
        md("""
## 1. Record
Press **Record**, say the word shown, press **Stop**. The level meter should move while you speak
(red means too loud); the player lets you hear the take. Takes come in rounds — every word once,
then every word again — and each one is saved at once as a WAV file with a manifest
(`manifest.csv`: audio, text, speaker, split), the same format as any dataset autoasr reads.
**Redo last take** if a take went wrong. Run the next cell when all takes are recorded.
"""),
        code("""
from widgets.record_dataset import RecordDataset, parse_prompts

folder = "autoasr_runs/your_voice/recordings"
recording = RecordDataset(folder, prompts=parse_prompts(words), takes=takes)
if fake_microphone == "espeak":
    from autoasr.data.demo_corpus import prepare_spoken_corpus

    fake_microphone = prepare_spoken_corpus("autoasr_runs/your_voice/espeak", parse_prompts(words),
                                            num_speakers=takes + 1, num_test_speakers=1)
if fake_microphone is not None:
    recording.fill_from(fake_microphone)   # the clips go through the recorder as if spoken
recording
"""),
        md("""
## 2. Train on your takes
The takes of the last round are the **test** set: the model never trains on them, so they show how it
does on a new take of your voice. From the others, the search keeps a few aside as its *tuning set*
to compare trials. Starting from the pretrained listener, the first model that knows your words is ready
within seconds (a small classifier on Whisper's encoder); from scratch there is very little data, so expect
a few trials to learn nothing in the time.
""" + LISTENER),
        code("""
from autoasr import ASRPredictor, load_dataset
from widgets import LiveProgress

if not recording.complete:
    raise RuntimeError(f"{len(recording.rows)} of {len(recording.plan)} takes are recorded: finish recording "
                       "above, then run this cell again.")
train, test = load_dataset(recording.manifest, split=("train", "test"))
progress = LiveProgress()
display(progress)
predictor = ASRPredictor(path="autoasr_runs/your_voice/run", verbosity=0)
predictor.fit(train, time_limit=time_limit, pretrained=pretrained, callbacks=[progress])
predictor.leaderboard()[["trial_id", "model", "size", "val_wer", "epochs", "stop_reason"]]
"""),
        md("""
## 3. Try it live
Say one of your words: the best model writes what it heard. Tick *every trained model* to see
what the others make of the same take. Try a word it never learned, too: a classifier on the pretrained
listener (size `pooled…`) knows only your words, so it answers with the closest one; a model that spells
letters (from scratch) writes something close to one of them.
"""),
        code("""
from widgets.try_live import TryLive

live = TryLive(predictor)
if fake_microphone is not None:
    said = test.utterances[0]
    print("said:", said.text, "| heard:", live.feed(said.audio)[0][1])   # (trial id, text) of the best model
live
"""),
        md("""
## 4. Which words get confused?
Each row is a word you said in the test round, each column what the model wrote; the diagonal is
right. Words that share sounds ("no" / "go", "left" / "lift") get mixed up first: more takes, more
varied takes, or more distinct words fix that.
"""),
        code("""
from widgets.record_dataset import confusions

evaluation = predictor.evaluate(test, return_details=True)
print(f"test WER {evaluation['wer']:.1%} on {evaluation['num_utterances']} takes")
confusions(evaluation)
"""),
        md("""
**Next:** record more takes or other words and train again; the recordings are a normal dataset, so
`02_bring_your_own_data` and the wizard (`build_app(data=recording.manifest)`) use them too.
"""),
    ]


def app():
    return [
        code("""
# Served by `make app` (Voilà): the page shows the wizard, not this code.
from widgets import build_app

build_app()
"""),
    ]


NOTEBOOKS = {
    "01_quickstart.ipynb": quickstart,
    "02_bring_your_own_data.ipynb": bring_your_own_data,
    "03_compare_and_understand.ipynb": compare_and_understand,
    "04_domain_and_budget.ipynb": domain_and_budget,
    "05_use_and_export.ipynb": use_and_export,
    "06_your_own_voice.ipynb": your_own_voice,
    "app.ipynb": app,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        notebook = new_notebook(cells=cells(), metadata={"kernelspec": KERNEL,
                                                         "language_info": {"name": "python"}})
        for position, cell in enumerate(notebook.cells):  # stable ids keep diffs small
            cell["id"] = f"{Path(name).stem.split('_')[0]}-{position:02d}"
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
