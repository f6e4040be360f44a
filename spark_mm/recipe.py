"""Recipes: YAML → frozen, validated models, before Spark starts.

A recipe names the source, the ordered stages of operators with their parameters, and the output
namespace. Validation fails fast with a :class:`~spark_mm.errors.RecipeError` that names the key
(``stages[0].ops[1].max_pixels``) and the accepted values; nothing is written on failure.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from spark_mm.errors import RecipeError
from spark_mm.lake.settings import LakeSettings, SparkSettings, shown_input
from spark_mm.ops import registry
from spark_mm.ops.base import Resource
from spark_mm.dedup.methods import METHODS
from spark_mm.dedup.steps import DedupStep
from spark_mm.dedup.validate import check_dedup_steps
from spark_mm.links.step import ImageLinksStep
from spark_mm.sources.specs import SourceSpec
from spark_mm.video.step import SPLITTER_TYPES, ClipsStep

NAME = r"^[a-z][a-z0-9_]*$"


class StageResources(BaseModel):
    """Per-task resources of a stage; GPU amounts apply only where the master supports profiles."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cpus_per_task: int = Field(1, ge=1)
    gpus_per_task: float = Field(1.0, gt=0, le=64)


class RunSettings(BaseModel):
    """How a run commits: chunking for resume, and the audit ceilings for write-audit-publish.

    ``max_error_rate`` defaults to 0.5: real crawls carry a few percent of bad records (the demo
    sample 4%, the shared broken-image folder 20%), while a stage where most rows fail is
    misconfigured (wrong column, missing codec, unreadable source), and publishing it would look
    like success. Independently, a commit whose every row is an error fails unless
    ``allow_all_errors`` is set (also when a recipe raises the ceiling to 1.0).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    commit_chunks: int = Field(1, ge=1, description="commits per stage (bucket groups); a killed run resumes at chunk granularity")
    max_error_rate: float = Field(0.5, ge=0.0, le=1.0, description="audit ceiling on the fraction of rows with errors")
    allow_all_errors: bool = Field(False, description="publish a commit (ingest included) whose every row is an error")
    lease_timeout_s: float = Field(3600.0, ge=0.0, description="how long to wait for another run's namespace lease (docs/operations.md#concurrency)")


class _StageBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=NAME)
    resources: StageResources = Field(default_factory=StageResources)
    max_error_rate: float | None = Field(None, ge=0.0, le=1.0, description="overrides run.max_error_rate for this stage")
    allow_all_errors: bool | None = Field(None, description="overrides run.allow_all_errors for this stage")
    over: Literal["samples", "clips"] = Field(
        "samples", description="samples: one signals row per sample; clips: one per clip of <ns>.video_clips, keyed by clip_id (needs a clips: step; docs/video.md)"
    )


class TrackingSettings(BaseModel):
    """MLflow logging of each run: on by default; URI from here, ``MLFLOW_TRACKING_URI`` or the project store."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    mlflow_uri: str | None = None
    experiment: str | None = None  # default: the job name


class _RecipeBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    job: str = Field(pattern=NAME)
    namespace: str = Field(pattern=NAME)
    description: str = ""
    source: SourceSpec
    lake: LakeSettings = Field(default_factory=LakeSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    dedup: list[DedupStep] = Field(default_factory=list, description="dedup steps after the stages")
    links: ImageLinksStep | None = Field(None, description="image links of the ingested pages into <ns>.image_links (docs/image_text.md)")
    clips: ClipsStep | None = Field(None, description="scene clips of the ingested videos into <ns>.video_clips (docs/video.md)")

    @model_validator(mode="after")
    def _check_stages(self) -> "_RecipeBase":
        stages = getattr(self, "stages", [])
        names = [s.name for s in stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {dupes}")
        for s in stages:
            kinds = {registry.operators()[p.op].resource for p in s.ops}
            if len(kinds) > 1:
                raise ValueError(f"stage {s.name!r} mixes CPU and GPU operators; put GPU operators in their own stage")
        for i, s in enumerate(stages):
            if s.over == "clips" and self.clips is None:
                raise ValueError(
                    f"stages[{i}] ({s.name!r}) has over: clips, which scores the clips of <ns>.video_clips that the clips: step writes; "
                    "add a clips: section (e.g. clips: {splitter: {type: content}}) or drop over: clips"
                )
        if self.run.commit_chunks > self.lake.buckets:
            raise ValueError(f"run.commit_chunks ({self.run.commit_chunks}) cannot exceed lake.buckets ({self.lake.buckets}): a chunk is a group of buckets")
        check_dedup_steps(stages, self.dedup)  # binds MinHash steps to their operator; raises RecipeError
        return self


@functools.cache
def recipe_model() -> type[_RecipeBase]:
    """The Recipe model, with ``op`` discriminated over every registered operator's params."""
    params = tuple(cls.Params for cls in registry.operators().values())
    op_union = Annotated[Union[params], Field(discriminator="op")]  # type: ignore[valid-type]
    stage = create_model("Stage", __base__=_StageBase, ops=(list[op_union], Field(min_length=1)))  # type: ignore[valid-type]
    return create_model("Recipe", __base__=_RecipeBase, stages=(list[stage], Field(default_factory=list)))  # type: ignore[valid-type]


Recipe = _RecipeBase  # the public type; instances are of the dynamically built subclass


def stage_resource(stage: Any) -> Resource:
    """CPU or GPU: what every operator of a validated stage shares."""
    return registry.operators()[stage.ops[0].op].resource


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<recipe>"


def _model_at(loc: tuple[Any, ...], raw: Any) -> type[BaseModel] | None:
    """The pydantic model a location (minus its last key) points into, for listing accepted keys."""
    model: Any = recipe_model()
    node = raw
    for part in loc[:-1]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if model is None or not hasattr(model, "model_fields"):
            return None
        if part in model.model_fields:
            ann = model.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
            model = _unwrap(ann, node)
        else:  # a discriminator tag pydantic inserts into the location, e.g. 'img_meta'
            if part in registry.operators():
                model = registry.operators()[part].Params
    return model if hasattr(model, "model_fields") else None


def _unwrap(ann: Any, node: Any) -> Any:
    args = getattr(ann, "__args__", ())
    origin = getattr(ann, "__origin__", None)
    if origin is list and args:
        return _unwrap(args[0], node[0] if isinstance(node, list) and node else None)
    if hasattr(ann, "__metadata__"):
        return _unwrap(args[0], node)
    if args:
        if isinstance(node, dict):
            for a in args:
                fields = getattr(a, "model_fields", {})
                for tag in ("op", "type"):
                    if tag in fields and node.get(tag) == getattr(fields[tag], "default", None):
                        return a
        for a in args:
            if hasattr(a, "model_fields"):
                return a
    return ann


def _strip_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the discriminator tags pydantic inserts (``source.parquet.path``, ``ops[0].img_meta.x``)."""
    out = []
    for i, part in enumerate(loc):
        prev = loc[i - 1] if i else None
        is_tag = isinstance(part, str) and (
            prev in ("source", "splitter") or (isinstance(prev, int) and i >= 2 and loc[i - 2] in ("ops", "dedup"))
        )
        if not is_tag:
            out.append(part)
    return tuple(out)


def _explain(err: ValidationError, raw: Any) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = _format_loc(_strip_tags(loc))
        kind = e["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc, raw)
            accepted = ", ".join(sorted(model.model_fields)) if model else "?"
            lines.append(f"{key}: unknown key; accepted keys here: {accepted}")
        elif kind == "missing":
            lines.append(f"{key}: required key is missing")
        elif kind == "union_tag_invalid":
            ctx = e.get("ctx", {})
            lines.append(f"{key}: unknown {ctx.get('discriminator', 'tag').strip(chr(39))} {ctx.get('tag')!r}; accepted: {ctx.get('expected_tags')}")
        elif kind == "union_tag_not_found":
            lines.append(f"{key}: missing {e.get('ctx', {}).get('discriminator', 'tag')}; accepted: " + _accepted_tags(loc))
        else:
            lines.append(f"{key}: {e['msg']}{shown_input(e)}")
    return "invalid recipe:\n  " + "\n  ".join(lines)


def source_types() -> tuple[str, ...]:
    """Every ``source.type`` a recipe accepts, read off the source spec union (one place to add a source)."""
    union = get_args(SourceSpec)[0]
    return tuple(get_args(spec.model_fields["type"].annotation)[0] for spec in get_args(union))


def _accepted_tags(loc: tuple[Any, ...]) -> str:
    if "dedup" in loc:
        return ", ".join(repr(m) for m in METHODS)
    if "ops" in loc:
        return ", ".join(repr(n) for n in registry.operators())
    if "splitter" in loc:
        return ", ".join(repr(t) for t in SPLITTER_TYPES)
    return ", ".join(repr(t) for t in source_types())


# Mappings whose keys are free-form strings, taken whole after the prefix; values stay strings.
_FREE_FORM_MAPS = ("spark.conf", "lake.properties")


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """Split ``a.b.0.c=value`` into a key path and a YAML-typed value.

    >>> parse_override("stages.0.ops.0.max_pixels=1000")
    (['stages', 0, 'ops', 0, 'max_pixels'], 1000)
    >>> parse_override("spark.conf.spark.sql.shuffle.partitions=4")
    (['spark', 'conf', 'spark.sql.shuffle.partitions'], '4')
    """
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected key=value, e.g. --set namespace=test")
    key, _, value = text.partition("=")
    if not key:
        raise RecipeError(f"--set {text!r}: empty key")
    for prefix in _FREE_FORM_MAPS:  # their keys contain dots themselves (spark.sql.shuffle.partitions)
        if key.startswith(prefix + ".") and len(key) > len(prefix) + 1:
            return [*prefix.split("."), key[len(prefix) + 1 :]], value
    path: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
    return path, yaml.safe_load(value) if value != "" else ""


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with every ``key=value`` override applied."""
    import copy

    out = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = out
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    raise RecipeError(f"--set {text!r}: index {part} out of range at {_format_loc(tuple(path[:i]))}")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise RecipeError(f"--set {text!r}: {_format_loc(tuple(path[:i]))} is not a mapping")
                node = node.setdefault(part, [] if isinstance(nxt, int) else {})
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise RecipeError(f"--set {text!r}: index {last} out of range")
            node[last] = value
        else:
            if not isinstance(node, dict):
                raise RecipeError(f"--set {text!r}: parent of {last!r} is not a mapping")
            node[last] = value
    return out


def read_set_file(path: str | Path) -> list[str]:
    r"""``--set-file``: a YAML mapping of dotted keys → values, as ``--set`` overrides (file order).

    Values keep their YAML types (``--set`` parses its values as YAML too); keys under the
    free-form maps (``spark.conf.*``, ``lake.properties.*``) get their value as a string.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    ...     _ = f.write("stages.0.ops.1.min_side_px: 150\nnamespace: demo\n")
    >>> read_set_file(f.name)
    ['stages.0.ops.1.min_side_px=150', 'namespace="demo"']
    >>> os.unlink(f.name)
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"--set-file {path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise RecipeError(f"--set-file {path} is not valid YAML: {err}") from None
    if raw is None:
        return []
    if not isinstance(raw, dict):
        raise RecipeError(f"--set-file {path}: expected a mapping of dotted keys to values (stages.0.ops.1.min_side_px: 150), got {type(raw).__name__}")
    out = []
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise RecipeError(f"--set-file {path}: key {key!r} is not a dotted key such as stages.0.ops.1.min_side_px")
        free_form = any(key.startswith(prefix + ".") for prefix in _FREE_FORM_MAPS)
        out.append(f"{key}={value if free_form else json.dumps(value)}")
    return out


class LoadedRecipe(BaseModel):
    """A validated recipe plus the text it was hashed from (its digest goes into lineage).

    Attributes:
        text: what ``sha256`` is taken over: the file's text as read, or, when overrides were
            applied (or the recipe was built in code), the YAML dump of the overridden mapping.
        source_path / source_text: the recipe file and its text verbatim (comments and all), when
            it came from a file; the report shows this text, never the dump.
        overrides: the ``key=value`` overrides applied on top of it, in order (``--set-file``
            entries, then ``--set``; a later one wins). Neither field enters ``sha256`` or any
            stage fingerprint, which stay what they were.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    recipe: Any
    text: str
    sha256: str
    source_path: str | None = None
    source_text: str | None = None
    overrides: tuple[str, ...] = ()


def validate(raw: Any) -> Any:
    """Validate a recipe mapping, raising RecipeError with key paths and accepted values."""
    if not isinstance(raw, dict):
        raise RecipeError(f"invalid recipe: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        recipe = recipe_model().model_validate(raw)
    except ValidationError as err:
        raise RecipeError(_explain(err, raw)) from None
    _check_columns(recipe)
    return recipe


def _check_columns(recipe: Any) -> None:
    """Every operator's inputs must exist in the samples table or come from an earlier operator."""
    from spark_mm.lake.schema import SAMPLES_COLUMNS

    available = set(SAMPLES_COLUMNS)
    per_clip: set[str] = set()  # columns of over: clips stages: clip rows, which sample stages and dedup cannot read
    for si, stage in enumerate(recipe.stages):
        for oi, params in enumerate(stage.ops):
            op = registry.build(params)
            missing = [c for c in op.reads if c not in available]
            if missing:
                raise RecipeError(
                    f"invalid recipe:\n  stages[{si}].ops[{oi}] ({params.op}) reads {missing}, which no source column or "
                    f"earlier operator provides; available: {sorted(available)}"
                )
            of_clips = sorted(c for c in op.reads if c in per_clip)
            if of_clips and stage.over == "samples":
                raise RecipeError(
                    f"invalid recipe:\n  stages[{si}].ops[{oi}] ({params.op}) reads {of_clips}, which an over: clips stage writes per clip; "
                    "a per-sample stage cannot read them: give this stage over: clips too"
                )
            available |= set(op.output_schema.names)
            if stage.over == "clips":
                per_clip |= set(op.output_schema.names)
    produced = available - set(SAMPLES_COLUMNS) - per_clip
    names = [d.name for d in recipe.dedup]
    if len(set(names)) != len(names):
        raise RecipeError(f"invalid recipe:\n  dedup: step names must be unique; got {names}")
    for di, step in enumerate(recipe.dedup):
        rows = METHODS[step.method].rows
        if rows.table is not None:  # a child table's rows (clip_phash: video_clips), written by its own section
            if getattr(recipe, rows.section, None) is None:
                raise RecipeError(
                    f"invalid recipe:\n  dedup[{di}] ({step.method}) dedups the rows of {rows.table}, which the {rows.section}: "
                    f"step writes; add a {rows.section}: section"
                )
            offered = rows.columns()
            missing = [c for c in step.reads if c not in offered]
            if missing:
                raise RecipeError(f"invalid recipe:\n  dedup[{di}] ({step.method}) reads {missing}, which {rows.table} does not have; columns: {sorted(offered)}")
            continue
        missing = [c for c in step.reads if c not in produced]
        if missing:
            raise RecipeError(
                f"invalid recipe:\n  dedup[{di}] ({step.method}) reads {missing}, which no stage operator produces; "
                f"add the operator that writes it (e.g. img_signals for img_phash, txt_minhash for txt_minhash_bands/_sig/txt_exact_key, url_key, url_text_key); produced: {sorted(produced)}"
            )


def from_mapping(raw: dict[str, Any], overrides: list[str] | None = None) -> LoadedRecipe:
    """Validate a recipe given as a mapping (e.g. built in code); its YAML dump is what gets hashed."""
    if overrides:
        raw = apply_overrides(raw, overrides)
    text = yaml.safe_dump(raw, sort_keys=False)
    return LoadedRecipe(recipe=validate(raw), text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), overrides=tuple(overrides or ()))


def load(path: str | Path, overrides: list[str] | None = None) -> LoadedRecipe:
    """Read, override and validate a recipe file.

    The file's text and the overrides are kept on the result (``source_text``, ``overrides``) for
    the report; the digest is over the text as before (see :class:`LoadedRecipe`).
    """
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file not found: {path}")
    source = text = path.read_text()
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RecipeError(f"recipe {path} is not valid YAML: {err}") from None
    if overrides:
        raw = apply_overrides(raw, overrides)
        text = yaml.safe_dump(raw, sort_keys=False)
    recipe = validate(raw)
    return LoadedRecipe(
        recipe=recipe, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), source_path=str(path), source_text=source, overrides=tuple(overrides or ())
    )
