"""Report sections of generative runs: text from a language model, images from a GAN or a VAE.

Both call the task's own ``generate`` (what ``layerlab generate`` runs), with a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

from layerlab.analyze import html
from layerlab.analyze.report_context import SECTIONS, ReportContext, Section

SAMPLE_TOKENS = 400  # tokens generated for the report
SAMPLE_IMAGES = 64  # images generated for the report


@SECTIONS.register("language_model", description="a sample of generated text")
def language_model_sections(ctx: ReportContext) -> list[Section]:
    parts = []
    for temperature in (0.8, 0.0):
        result = ctx.task.generate(ctx.model, preprocessor=ctx.preprocessor, device=ctx.device, prompt="",
                                   tokens=SAMPLE_TOKENS, temperature=temperature, top_k=40, seed=0)
        how = "greedy (temperature 0)" if temperature == 0 else f"sampled at temperature {temperature}, top-k 40"
        parts += [html.paragraph(f"{SAMPLE_TOKENS} tokens, {how}:"), html.preformatted(result["text"])]
    return [Section("Generated text", parts)]


def _image_sections(ctx: ReportContext) -> list[Section]:
    result = ctx.task.generate(ctx.model, preprocessor=ctx.preprocessor, device=ctx.device, n=SAMPLE_IMAGES,
                               out=str(ctx.png("generated")), seed=0)
    caption = f"{result['n']} generated images (seed 0)" + (
        "; one class per column" if result.get("classes") is not None else "")
    return [Section("Generated images", [html.image(Path(result["path"]), caption=caption)])]


for _task in ("adversarial", "vae"):
    SECTIONS.register(_task, description="a grid of generated images")(_image_sections)
