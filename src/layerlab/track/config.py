"""The recipe's ``track:`` section: where a run is recorded besides its run directory."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from layerlab.config import Section


class MLflowConfig(Section):
    uri: str | None = Field(
        None, description="tracking URI: http(s)://server, sqlite:///file.db, postgresql://...; "
                          "default a SQLite store mlflow.db beside the run directory")
    experiment: str | None = Field(None, description="MLflow experiment (default: the recipe's name)")
    log_model: bool = Field(True, description="log the model as the 'model' artifact: weights, model.json and "
                                              "recipe.yaml (what layerlab.load_run reads)")
    artifacts: bool = Field(True, description="log history.csv, summary.json and the plots")


class TrackConfig(Section):
    index: bool = Field(True, description="register the run in index.sqlite beside its directory (`layerlab runs`)")
    mlflow: MLflowConfig | None = Field(
        None, description="log parameters, per-epoch metrics, artifacts and the model to MLflow: "
                          "true, a tracking URI, or {uri, experiment, log_model, artifacts}")
    tensorboard: bool = Field(False, description="write TensorBoard event files to RUN/tensorboard")

    @field_validator("mlflow", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``mlflow: true`` takes the defaults, ``mlflow: URI`` names the store, ``false`` turns it off."""
        if value is True:
            return {}
        if value is False:
            return None
        if isinstance(value, str):
            return {"uri": value}
        return value
