"""Reconstruction, VAE and adversarial tasks: losses, metrics, training steps, generation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from threadpoolctl import threadpool_limits

from layerlab import api
from layerlab.data import load_data
from layerlab.errors import RecipeError, UsageError
from layerlab.models import create_model
from layerlab.recipe import DataConfig, TaskConfig, TrainConfig, load_recipe
from layerlab.tasks import create_task
from layerlab.tasks.adversarial import AdversarialStep, AdversarialTask, diversity_ratio, gradient_penalty
from layerlab.tasks.imaging import corrupt, grid, psnr, ssim
from layerlab.tasks.vae import VAETask, bernoulli_nll, kl_divergence
from layerlab.train.trainer import Trainer

FAST = {"report": False, "diagnostics_every": 0, "threads": 1}


@pytest.fixture(scope="module")
def digits():
    return load_data(DataConfig(name="digits", normalize=False), task="reconstruction", seed=0)


# ------------------------------------------------------------------------------------ image metrics
def test_psnr_and_ssim_of_known_cases():
    x = torch.rand(2, 1, 16, 16)
    assert psnr(x.clamp(0, 0.9) * 0 + 0.5, torch.full_like(x, 0.6)).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    noisy = corrupt(x, "gaussian", 0.2, torch.Generator().manual_seed(0))
    noisier = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(0))
    assert (ssim(noisier, x) < ssim(noisy, x)).all() and (ssim(noisy, x) < 1).all()


def test_noise_kinds_hit_what_they_say():
    x = torch.full((4, 1, 32, 32), 0.5)
    g = torch.Generator().manual_seed(0)
    masked = corrupt(x, "mask", 0.3, g)
    assert (masked == 0).float().mean().item() == pytest.approx(0.3, abs=0.03)
    salted = corrupt(x, "salt_pepper", 0.2, g)
    hit = salted != 0.5
    assert hit.float().mean().item() == pytest.approx(0.2, abs=0.03) and set(salted[hit].tolist()) <= {0.0, 1.0}
    gaussian = corrupt(x, "gaussian", 0.1, g)
    assert (gaussian - x).std().item() == pytest.approx(0.1, abs=0.01) and gaussian.min() >= 0
    assert corrupt(x, "none", 0.3) is x


# -------------------------------------------------------------------------------------- reconstruction
def test_autoencoder_reconstructs_far_better_than_the_mean_image(tmp_path, digits):
    result = api.run({"name": "ae", "data": {"name": "digits", "normalize": False},
                      "model": {"name": "autoencoder", "kind": "dense", "latent": 12, "hidden": 96},
                      "task": {"name": "reconstruction"},
                      "train": {"epochs": 12, "batch_size": 32, "lr": 0.003, **FAST}}, out=tmp_path / "run")
    baseline = (digits.test.x - digits.train.x.mean(0)).square().mean().item()
    test = result.summary["test"]
    assert test["mse"] < 0.35 * baseline, (test, baseline)
    assert test["psnr"] > -10 * math.log10(baseline) + 4
    assert set(test) >= {"loss", "mse", "psnr", "ssim"}


def test_denoising_scores_against_the_clean_input_and_reports_the_gain():
    task = create_task(TaskConfig(name="reconstruction", noise="gaussian", noise_level=0.3), num_classes=2,
                       class_names=["a", "b"], train_targets=torch.empty(0))
    x = torch.rand(6, 1, 8, 8)
    # a stand-in autoencoder that returns logits of the clean images: perfect denoising
    output = task.reconstruct(_Clean(x), x, batch_size=4)
    assert output.noisy is not None and not torch.equal(output.noisy, x)
    metrics = task.metrics(output, torch.tensor([0, 1, 0, 1, 0, 1]))
    assert metrics["psnr"] > 60 and metrics["psnr_gain"] == pytest.approx(metrics["psnr"] - metrics["noisy_psnr"])
    report = task.report(output, torch.tensor([0, 1, 0, 1, 0, 1]))
    assert set(report["per_class"]) == {"a", "b"} and report["per_class"]["a"]["n"] == 3


class _Clean(torch.nn.Module):
    """Returns (huge-margin) logits of the clean images, whatever it is given."""

    def __init__(self, clean):
        super().__init__()
        self.clean, self.calls = clean, 0

    def forward(self, x):
        out = torch.logit(self.clean[self.calls : self.calls + len(x)].clamp(1e-6, 1 - 1e-6))
        self.calls += len(x)
        return out


def test_generative_tasks_refuse_standardised_inputs():
    with pytest.raises(RecipeError, match="data.normalize: task vae models pixels in \\[0, 1\\]; set data.normalize: false"):
        load_recipe({"model": {"name": "vae"}, "task": {"name": "vae"}})


def test_an_autoencoder_run_says_it_cannot_generate():
    task = create_task(TaskConfig(name="reconstruction"), num_classes=None, class_names=None, train_targets=torch.empty(0))
    with pytest.raises(UsageError, match="layerlab reconstruct"):
        task.generate(torch.nn.Identity(), preprocessor=None, device="cpu", n=4)


# ------------------------------------------------------------------------------------------------ VAE
def test_kl_term_matches_a_hand_computed_case():
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    log_var = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # 0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 4 - 1 - ln 4) = 0.5 + 0.5 * (3 - ln 4); the standard normal: 0
    expected = [0.5 + 0.5 * (3 - math.log(4.0)), 0.0]
    assert kl_divergence(mean, log_var).tolist() == pytest.approx(expected, abs=1e-6)
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    assert kl_divergence(mean, log_var).tolist() == pytest.approx(torch.distributions.kl_divergence(q, p).sum(1).tolist())


def test_kl_warmup_rises_with_the_models_own_batch_count():
    task = VAETask(beta=2.0, kl_warmup=10)
    assert [task.kl_weight(b) for b in (0, 5, 10, 50)] == [0.0, 1.0, 2.0, 2.0]
    torch.manual_seed(0)
    model = create_model({"name": "vae", "latent": 3, "width": 4}, input_shape=(1, 8, 8), num_outputs=1)
    x = torch.rand(4, 1, 8, 8)
    weights = [task.forward(model, x, torch.zeros(4)).kl_weight for _ in range(3)]
    assert weights == [0.0, 0.2, 0.4] and int(model.train_batches) == 3
    model.eval()
    task.forward(model, x, torch.zeros(4))
    assert int(model.train_batches) == 3  # evaluation does not advance the warm-up
    assert VAETask(beta=0.5).kl_weight(0) == 0.5


def test_vae_learns_and_its_elbo_splits_into_reconstruction_and_kl(tmp_path, digits):
    result = api.run({"name": "vae", "data": {"name": "digits", "normalize": False},
                      "model": {"name": "vae", "kind": "dense", "latent": 4, "hidden": 64},
                      "task": {"name": "vae", "kl_warmup": 300},
                      "train": {"epochs": 6, "batch_size": 16, "lr": 0.003, **FAST}}, out=tmp_path / "vae")
    test, history = result.summary["test"], result.history
    assert test["elbo"] == pytest.approx(-(test["reconstruction"] + test["kl"]))
    assert test["kl"] > 0.5  # the latent is used
    # Grey pixels make even a perfect Bernoulli decoder pay their entropy; above that floor, the bound
    # beats the exact likelihood of the best independent-pixel model (the mean image). On 1,300 8x8
    # digits and ~500 steps the margin is modest (about 0.86 of the baseline's excess, 2.3 nats of KL).
    x = digits.test.x.clamp(1e-6, 1 - 1e-6)
    floor = bernoulli_nll(torch.logit(x), digits.test.x).mean().item()
    mean = digits.train.x.mean(0).clamp(1e-4, 1 - 1e-4)
    baseline = bernoulli_nll(torch.logit(mean).expand_as(digits.test.x), digits.test.x).mean().item()
    assert -test["elbo"] - floor < 0.92 * (baseline - floor), (test, baseline, floor)
    assert test["psnr"] > -10 * math.log10((digits.test.x - digits.train.x.mean(0)).square().mean().item()) + 2
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    grids = sorted((tmp_path / "vae" / "samples").glob("epoch-*.png"))
    assert [g.name for g in grids] == [f"epoch-{e:03d}.png" for e in range(1, 7)]

    out = api.generate(tmp_path / "vae", n=10, out=str(tmp_path / "g.png"))
    assert out["n"] == 10 and Image.open(out["path"]).size == _grid_size(10, 8, columns=4)
    with pytest.raises(UsageError, match="not conditioned on classes"):
        api.generate(tmp_path / "vae", n=4, class_="3")

    # the commands on the same run: reconstruct, interpolate, embed (latent codes, two methods side by side)
    from layerlab.cli import main

    run = str(tmp_path / "vae")
    assert main(["reconstruct", run, "--n", "6", "--out", str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size == _grid_size(12, 8, columns=6)  # originals over outputs
    assert main(["interpolate", run, "--pairs", "2", "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    assert Image.open(tmp_path / "i.png").size == _grid_size(14, 8, columns=7)  # two real ends per row
    with threadpool_limits(limits=1, user_api="openmp"):
        assert main(["embed", run, "--n", "150", "--compare", "--out", str(tmp_path / "emb")]) == 0
    quality = json.loads((tmp_path / "emb" / "quality.json").read_text())
    assert set(quality) == {"pca", "tsne"} and quality["tsne"]["knn_accuracy"] > 0.3  # 10 classes: chance 0.1
    assert (tmp_path / "emb" / "compare.png").exists() and (tmp_path / "emb" / "embedding.html").exists()
    assert main(["reconstruct", run, "--split", "tset"]) == 2  # a user error: a message, not a traceback


def _grid_size(n, side, *, columns, pad=2, scale=2):
    rows = math.ceil(n / columns)
    return (scale * (columns * (side + pad) + pad), scale * (rows * (side + pad) + pad))


# -------------------------------------------------------------------------------------------- GANs
def _gan(name="cgan", classes=3):
    torch.manual_seed(0)
    return create_model({"name": name, "latent": 8, "width": 8, "d_width": 8}, input_shape=(1, 8, 8), num_outputs=classes)


def _step(model, **task_options):
    task = AdversarialTask(num_classes=model.num_classes, **task_options)
    return AdversarialStep(task, model, lambda module, lr: torch.optim.Adam(module.parameters(), lr=lr or 1e-2), "fp32")


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_a_gan_step_updates_only_the_network_it_should(loss):
    model = _gan()
    step = _step(model, loss=loss)
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])

    def snapshot(net):
        return [p.detach().clone() for p in net.parameters()]

    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    step.discriminator_step(x, y)
    assert all(torch.equal(a, b) for a, b in zip(g0, snapshot(model.generator)))
    assert any(not torch.equal(a, b) for a, b in zip(d0, snapshot(model.discriminator)))

    g1, d1 = snapshot(model.generator), snapshot(model.discriminator)
    step.generator_step(6, y)
    assert all(torch.equal(a, b) for a, b in zip(d1, snapshot(model.discriminator)))
    assert any(not torch.equal(a, b) for a, b in zip(g1, snapshot(model.generator)))
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen again


def test_n_critic_takes_several_discriminator_steps_per_generator_step():
    model = _gan("dcgan")
    step = _step(model, n_critic=3)
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    for _ in range(2):
        step(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    assert all(torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    step(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))


def test_losses_and_penalty_have_their_textbook_values():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-1.0], [0.0]])
    hinge = AdversarialTask(loss="hinge")
    assert hinge.d_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert hinge.g_loss(fake).item() == pytest.approx(0.5)
    smooth = AdversarialTask(loss="bce", label_smoothing=0.1)
    target = torch.full((2, 1), 0.9)
    expected = (torch.nn.functional.binary_cross_entropy_with_logits(real, target)
                + torch.nn.functional.binary_cross_entropy_with_logits(fake, torch.zeros(2, 1)))
    assert smooth.d_loss(real, fake).item() == pytest.approx(expected.item())

    class Linear(torch.nn.Module):  # D(x) = 3 * sum(x): its gradient's norm is 3 * sqrt(pixels) everywhere
        def forward(self, x, y=None):
            return 3 * x.flatten(1).sum(1, keepdim=True)

    x = torch.rand(5, 1, 2, 2)
    assert gradient_penalty(Linear(), x, torch.rand(5, 1, 2, 2), None).item() == pytest.approx((3 * 2 - 1) ** 2)


def test_diversity_ratio_sees_a_collapse():
    real = torch.rand(64, 1, 8, 8)
    assert diversity_ratio(torch.rand(64, 1, 8, 8), real, None) == pytest.approx(1.0, abs=0.1)
    collapsed = real[:1].expand(64, -1, -1, -1) + 0.01 * torch.rand(64, 1, 8, 8)
    assert diversity_ratio(collapsed, real, None) < 0.1


def test_generated_grids_have_the_requested_shape_and_classes(tmp_path):
    model = _gan(classes=4).eval()
    task = AdversarialTask(num_classes=4, class_names=["tee", "bag", "shoe", "coat"])
    out = task.generate(model, preprocessor=None, device="cpu", n=6, class_="shoe", out=str(tmp_path / "a.png"))
    assert out["classes"] == [2] * 6 and out["shape"] == [1, 8, 8]
    assert Image.open(out["path"]).size == _grid_size(6, 8, columns=3)
    out = task.generate(model, preprocessor=None, device="cpu", n=8, out=str(tmp_path / "b.png"))
    assert out["classes"] == [0, 1, 2, 3, 0, 1, 2, 3]  # every class in turn, one per column
    assert Image.open(out["path"]).size == _grid_size(8, 8, columns=4)
    assert task.generate(model, preprocessor=None, device="cpu", n=2, class_="1", out=str(tmp_path / "c.png"))["classes"] == [1, 1]
    with pytest.raises(UsageError, match="'hat' is not a class of this run; give a name or an index: 0 tee, 1 bag"):
        task.generate(model, preprocessor=None, device="cpu", n=2, class_="hat", out=str(tmp_path / "d.png"))
    with pytest.raises(UsageError, match="not conditional"):
        AdversarialTask().generate(_gan("dcgan"), preprocessor=None, device="cpu", n=2, class_="1", out=str(tmp_path / "e.png"))
    pixels = np.asarray(Image.open(tmp_path / "a.png"))
    assert pixels.dtype == np.uint8 and grid(torch.zeros(1, 1, 8, 8)).shape == (12, 12)


def test_gan_training_resumes_to_the_same_weights(tmp_path, digits):
    cfg = TrainConfig(epochs=2, batch_size=256, optimizer="adam", lr=2e-3, betas=(0.5, 0.999), report=False)
    task = AdversarialTask(loss="hinge", num_classes=10)

    def trainer(path):
        model = _gan(classes=10)
        return Trainer(model, task, cfg, device=torch.device("cpu"), checkpoint_path=path)

    whole = trainer(tmp_path / "whole.ckpt")
    whole.fit(digits.train)
    first = trainer(tmp_path / "part.ckpt")
    first.cfg = cfg.model_copy(update={"epochs": 1})
    first.fit(digits.train)
    second = trainer(tmp_path / "part.ckpt")
    second.fit(digits.train, resume=tmp_path / "part.ckpt")
    assert second.state.global_step == whole.state.global_step == 2 * math.ceil(len(digits.train) / 256)
    for (name, a), b in zip(whole.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("name", ["reconstruction", "vae", "adversarial"])
def test_generative_task_contract(name, digits):
    """The metrics evaluate reports are the names train.monitor may use; the saved section rebuilds the task."""
    from layerlab.api import _metric_names

    task = create_task(TaskConfig(name=name, **({"noise": "mask"} if name == "reconstruction" else {})), num_classes=10,
                       class_names=digits.info.class_names, train_targets=digits.train.y)
    model = create_model({"name": {"reconstruction": "autoencoder", "vae": "vae", "adversarial": "cgan"}[name],
                          "width": 4}, input_shape=(1, 8, 8), num_outputs=task.num_outputs())
    metrics, report = task.evaluate(model, digits.val, batch_size=64, report=True)
    assert set(metrics) == set(_metric_names(task)) and all(isinstance(v, float) for v in metrics.values())
    assert task.monitor[0].removeprefix("val_") in metrics
    json.dumps(report)
    assert TaskConfig(**task.config_dict()).name == name
