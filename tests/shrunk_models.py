"""Model files of this package shrunk for quick tests (the same equations and rules, fewer
neurons, shorter samples, smaller launches)."""
import re

from sbp_brian.model_files import models_dir


def shrunk_model(folder, model: str, hidden: int, duration: str | None = None) -> str:
    """``model`` (a bundled name) written to ``folder`` with ``hidden`` neurons per hidden
    layer, samples of ``duration`` (a Brian2 expression such as ``"20*ms"``; the model's own
    if None), batches of 10 samples and launches of 20 (one per training epoch in the tests);
    returns the new file's path."""
    text = (models_dir() / f"{model}.toml").read_text()
    text = re.sub(r"(?m)^hidden = \{ value = \d+", f"hidden = {{ value = {hidden}", text)
    if duration:
        text = re.sub(r'(?m)^sample_duration = \{ value = "[^"]+"',
                      f'sample_duration = {{ value = "{duration}"', text)
    text = re.sub(r"(?m)^batch_size = \{ value = \d+", "batch_size = { value = 10", text)
    text = re.sub(r"(?m)^chunk = \{ value = \d+", "chunk = { value = 20", text)
    path = folder / f"{model}_small.toml"
    path.write_text(text)
    return str(path)
