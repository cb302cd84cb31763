"""The BEAM sampler (gnnAssetsConfig.sampler.engine BEAM): every root's k-hop neighbourhood built
hop by hop from the enumerated graph in storage by joins, on any number of workers.

1. Adjacency: each edge file is read by row groups; every edge gets its priority (the sampling
   rule, sampling_rule.py) and each destination keeps its K smallest in-edges, first within a
   row group (numpy), then across row groups by a combiner (bottom-K merges): a node with
   millions of in-edges never sits whole in one worker. K is the largest fanout (all edges for -1).
2. Hops: the frontier (node -> the roots that reached it) is joined with the adjacency; each
   root takes its first fanout[h] in-edges of every frontier node, and a per-root state (the
   nodes it has reached, its edges) is joined with them to find the next frontier.
3. Features are joined last (node -> roots), and each root's neighbourhood is encoded (PACKED or
   GIGL_PROTO) into the same TFRecord shards and sample manifest the LOCAL sampler writes, so the
   inference job cannot tell the engines apart. For the same seed both engines pick the same
   neighbours (the rule is a function of the graph and the seed alone).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Callable

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
from apache_beam.pvalue import TaggedOutput

from gnn_assets import storage
from gnn_assets.beam.runners import pipeline_options, run_to_completion
from gnn_assets.config.job import Job
from gnn_assets.config.task_config import TaskKind
from gnn_assets.graph.codec import encode_gigl
from gnn_assets.graph.enumerated_layout import EdgeTypeKey, check_enumeration, edges_uri, enumeration_id, nodes_uri, read_graph_metadata
from gnn_assets.graph.enumeration import check_same_graph
from gnn_assets.graph.labels import class_labels, labelled, read_labels
from gnn_assets.graph.packed import encode_packed
from gnn_assets.graph.sample_manifest import delete_sample_manifest, write_sample_manifest
from gnn_assets.graph.samples import Neighborhood, edge_endpoint_types
from gnn_assets.graph.sampler import SamplingReport, default_shard_count
from gnn_assets.graph.sampling_rule import edge_priorities
from gnn_assets.graph.tfrecord import iter_record_lengths
from gnn_assets.proto.gbml_config_pb2 import SampleEncoding

ALL = -1


@dataclass(frozen=True)
class _Graph:
    """What workers need to know of the graph (plain values: it pickles)."""

    node_types: tuple[str, ...]
    edge_types: tuple[EdgeTypeKey, ...]
    seed: int
    keep: int  # in-edges kept per destination: the largest fanout, or ALL


def _row_groups(uri: str) -> list[tuple[str, int, int]]:
    """(file, row group, first row) of a Parquet file: the units workers read."""
    with storage.open_read(uri) as stream:
        meta = pq.read_metadata(stream)
    starts = np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
    return [(uri, i, int(starts[i])) for i in range(meta.num_row_groups)]


def _read_row_group(uri: str, index: int, columns: list[str]):
    with storage.open_read(uri) as stream:
        return pq.ParquetFile(stream).read_row_group(index, columns=columns)


class _BottomKInEdges(beam.DoFn):
    """One row group of an edge type's edges -> per destination, its K smallest in-edges there."""

    def __init__(self, graph: _Graph):
        self._graph = graph

    def process(self, task):
        e, uri, index, _ = task
        table = _read_row_group(uri, index, ["src", "dst"])
        src, dst = table["src"].to_numpy(), table["dst"].to_numpy()
        if not len(src):
            return
        priority = edge_priorities(self._graph.seed, self._graph.edge_types[e], src, dst)
        order = np.lexsort((src, priority, dst))
        src, dst, priority = src[order], dst[order], priority[order]
        starts = np.flatnonzero(np.r_[True, dst[1:] != dst[:-1]])
        stops = np.r_[starts[1:], len(dst)]
        keep = self._graph.keep
        for a, b in zip(starts.tolist(), stops.tolist()):
            b = b if keep == ALL else min(b, a + keep)
            yield (e, int(dst[a])), (priority[a:b], src[a:b])


class _MergeBottomK(beam.CombineFn):
    """The K smallest (priority, src) of a destination's partial lists: merged in any order, by any workers."""

    def __init__(self, keep: int):
        self._keep = keep

    def create_accumulator(self):
        return (np.zeros(0, np.uint64), np.zeros(0, np.int64))

    def add_input(self, accumulator, element):
        return self.merge_accumulators([accumulator, element])

    def merge_accumulators(self, accumulators):
        priority = np.concatenate([a[0] for a in accumulators])
        src = np.concatenate([a[1] for a in accumulators])
        order = np.lexsort((src, priority))
        if self._keep != ALL:
            order = order[: self._keep]
        return priority[order], src[order]

    def extract_output(self, accumulator):
        return accumulator[1]  # sources in sampling order


class _Expand(beam.DoFn):
    """A frontier node joined with its in-edges: each root that reached it takes its first k."""

    def __init__(self, fanout: int):
        self._fanout = fanout

    def process(self, element):
        (node_type, node), grouped = element
        roots, lists = list(grouped["frontier"]), list(grouped["adjacency"])
        if not roots or not lists:
            return
        for e, sources in lists:
            taken = sources if self._fanout == ALL else sources[: self._fanout]
            if len(taken):
                for root in roots:
                    yield root, (e, node, taken)


class _Advance(beam.DoFn):
    """A root's state and its edges sampled at this hop -> its new state and next frontier."""

    FRONTIER = "frontier"

    def __init__(self, graph: _Graph):
        self._graph = graph

    def process(self, element):
        root, grouped = element
        (state,) = grouped["state"]
        visited = {t: set(nodes) for t, nodes in state["visited"].items()}
        edges = list(state["edges"])
        for e, dst, sources in grouped["sampled"]:
            src_type = self._graph.edge_types[e][0]
            seen = visited.setdefault(src_type, set())
            for src in sources.tolist():
                edges.append((e, src, dst))
                if src not in seen:
                    seen.add(src)
                    yield TaggedOutput(self.FRONTIER, ((src_type, src), root))
        yield root, {"visited": {t: sorted(v) for t, v in visited.items()}, "edges": edges}


class _ReadNodes(beam.DoFn):
    """A row group of a node type's nodes -> ((type, int id), (features, class or -1, labelled?)) per node."""

    def process(self, task):
        node_type, uri, index, first = task
        table = _read_row_group(uri, index, ["features", "label"])
        column = table["features"].combine_chunks()
        features = column.flatten().to_numpy().reshape(len(column), column.type.list_size)
        labels = read_labels(table["label"])
        classes, has_label = class_labels(labels), labelled(labels)
        for i in range(len(labels)):
            yield (node_type, first + i), (features[i], int(classes[i]), bool(has_label[i]))


class _Assemble(beam.DoFn):
    """A root's state and its nodes' features -> its neighbourhood, encoded, for its sample set."""

    def __init__(self, graph: _Graph, root_types: list[str], encoding: int, labeled: bool):
        self._graph = graph
        self._root_types = root_types
        self._encoding = encoding
        self._labeled = labeled

    def setup(self):
        if self._encoding == SampleEncoding.GIGL_PROTO:
            endpoints = edge_endpoint_types(list(self._graph.node_types), list(self._graph.edge_types))
            self._encode = functools.partial(encode_gigl, endpoints=endpoints, labeled=self._labeled)
        else:
            self._encode = encode_packed

    def process(self, element):
        (sample_set, root), grouped = element
        (state,) = grouped["state"]
        rows = {(t, n): value for t, n, value in grouped["features"]}
        node_types, edge_types = self._graph.node_types, self._graph.edge_types
        root_type = self._root_types[sample_set]
        node_ids, features, edges = {}, {}, {}
        for c, t in enumerate(node_types):
            ids = state["visited"].get(t, [])
            if ids:
                node_ids[c] = np.array(ids, np.int64)
                features[c] = np.stack([rows[(t, n)][0] for n in ids]).astype(np.float32)
        for c in range(len(edge_types)):
            pairs = sorted((src, dst) for e, src, dst in state["edges"] if e == c)
            if pairs:
                src_type, _, dst_type = edge_types[c]
                src_ids, dst_ids = node_ids[node_types.index(src_type)], node_ids[node_types.index(dst_type)]
                src = np.searchsorted(src_ids, [p[0] for p in pairs]).astype(np.int32)
                dst = np.searchsorted(dst_ids, [p[1] for p in pairs]).astype(np.int32)
                edges[c] = (src, dst)
        label = rows[(root_type, root)][1]
        sample = Neighborhood(root, node_types.index(root_type), node_ids, features, edges, label if label >= 0 else None)
        yield sample_set, self._encode(sample)


@dataclass(frozen=True)
class SampleSets:
    """What a sampler job writes: one prefix per sample set (root type, labeled or not), its roots."""

    prefixes: list[str]
    roots: list[int]


def build_sampler(pipeline: beam.Pipeline, job: Job) -> SampleSets:
    """The sampler's stages onto a pipeline (run here, or described offline as a Dataflow template)."""
    config = job.config
    graph_dir = job.graph_dir
    metadata = read_graph_metadata(graph_dir)
    check_same_graph(config.proto.graph_metadata, metadata, config.uri)
    node_types = tuple(metadata.node_types)
    edge_types = tuple((e.src_node_type, e.relation, e.dst_node_type) for e in metadata.edge_types)
    fanout = list(config.fanout)
    graph = _Graph(node_types, edge_types, config.sampler_seed, ALL if ALL in fanout else max(fanout))
    classification = config.task_kind is TaskKind.NODE_CLASSIFICATION  # samples carry classes
    # Sample sets: (root type, labeled?) in the order of their prefixes.
    sets, prefixes, counts = [], [], []
    for node_type in config.root_node_types:
        labeled, unlabeled = _label_counts(nodes_uri(graph_dir, node_type))
        if config.task_kind.is_node_based:
            sets += [(node_type, True), (node_type, False)]
            counts += [labeled, unlabeled]
        else:
            sets.append((node_type, None))
            counts.append(labeled + unlabeled)
        prefixes += config.sample_prefixes(node_type)

    edge_tasks = [(e, *g) for e, key in enumerate(edge_types) for g in _row_groups(edges_uri(graph_dir, key))]
    adjacency = (
        pipeline
        | "Edge row groups" >> beam.Create(edge_tasks)
        | "Spread edges" >> beam.Reshuffle()
        | "Bottom-K per row group" >> beam.ParDo(_BottomKInEdges(graph))
        | "Bottom-K per destination" >> beam.CombinePerKey(_MergeBottomK(graph.keep))
        | "Key by destination" >> beam.Map(lambda kv, types=edge_types: ((types[kv[0][0]][2], kv[0][1]), (kv[0][0], kv[1])))
    )
    node_tasks = [(t, *g) for t in node_types for g in _row_groups(nodes_uri(graph_dir, t))]
    node_rows = (
        pipeline
        | "Node row groups" >> beam.Create(node_tasks)
        | "Spread nodes" >> beam.Reshuffle()
        | "Read nodes" >> beam.ParDo(_ReadNodes())
    )
    roots = node_rows | "Roots" >> beam.FlatMap(_roots_of, sets=sets)
    state = roots | "First state" >> beam.Map(lambda kv: (kv, {"visited": {_root_type(kv, sets): [kv[1]]}, "edges": []}))
    frontier = roots | "First frontier" >> beam.Map(lambda kv: ((_root_type(kv, sets), kv[1]), kv))
    for hop, k in enumerate(fanout):
        sampled = (
            {"frontier": frontier, "adjacency": adjacency}
            | f"Hop {hop} join" >> beam.CoGroupByKey()
            | f"Hop {hop} take {k}" >> beam.ParDo(_Expand(k))
        )
        advanced = (
            {"state": state, "sampled": sampled}
            | f"Hop {hop} per root" >> beam.CoGroupByKey()
            | f"Hop {hop} advance" >> beam.ParDo(_Advance(graph)).with_outputs(_Advance.FRONTIER, main="state")
        )
        state, frontier = advanced.state, advanced[_Advance.FRONTIER]
    wanted = state | "Nodes to feature" >> beam.FlatMap(lambda kv: [((t, n), kv[0]) for t, ns in kv[1]["visited"].items() for n in ns])
    features = (
        {"roots": wanted, "row": node_rows}
        | "Join features" >> beam.CoGroupByKey()
        | "Features per root" >> beam.FlatMap(lambda kv: [(root, (kv[0][0], kv[0][1], kv[1]["row"][0])) for root in kv[1]["roots"]])
    )
    encoded = (
        {"state": state, "features": features}
        | "Per root" >> beam.CoGroupByKey()
        | "Assemble and encode" >> beam.ParDo(_Assemble(graph, [t for t, _ in sets], config.sample_encoding, classification))
    )
    for index, prefix in enumerate(prefixes):
        head, template = (prefix[:-1], "-SSSSS-of-NNNNN") if prefix.endswith("-") else (prefix, "SSSSS-of-NNNNN")
        (
            encoded
            | f"Set {index}" >> beam.Filter(lambda kv, i=index: kv[0] == i)
            | f"Set {index} records" >> beam.Map(lambda kv: kv[1])
            | f"Write set {index}" >> beam.io.WriteToTFRecord(
                head, file_name_suffix=".tfrecord", num_shards=default_shard_count(counts[index]), shard_name_template=template
            )
        )
    return SampleSets(prefixes, counts)


def beam_sample_job(job: Job, progress: Callable[[str], None] = print, dagster_run_id: str | None = None) -> dict[str, SamplingReport]:
    """The samples a frozen config's inference reads, for every root node type, written by a Beam
    job (FnApiRunner locally, Dataflow on GCP) into the shards and manifests the LOCAL sampler writes."""
    config, resources = job.config, job.resources
    started = time.monotonic()
    options = pipeline_options(resources, config.task_name, config.job_name, dagster_run_id=dagster_run_id)
    pipeline = beam.Pipeline(options=options)
    enumeration = enumeration_id(job.graph_dir)
    sets = build_sampler(pipeline, job)
    for prefix in sets.prefixes:  # the job's last samples: replaced, never mixed with new ones
        delete_sample_manifest(prefix)
        for old in storage.glob(prefix + "*.tfrecord"):
            storage.delete_tree(old)
    progress(f"BEAM sampler on {resources.runner_kind}: {sum(sets.roots):,} roots, fanout {config.fanout}")
    run_to_completion(pipeline, resources, progress, "Beam sampler job")
    check_enumeration(job.graph_dir, enumeration, f"the Beam sampler job of {config.job_name!r}")  # no manifest: the samples are not complete
    reports = {}
    for prefix, count in zip(sets.prefixes, sets.roots):
        shards = storage.glob(prefix + "*.tfrecord")
        per_shard = {}
        for shard in shards:
            with storage.open_read(shard) as stream:
                per_shard[storage.basename(shard)] = sum(1 for _ in iter_record_lengths(stream))
        write_sample_manifest(prefix, per_shard, enumeration)
        reports[prefix] = SamplingReport(count, shards, time.monotonic() - started)
        progress(f"{prefix}*.tfrecord: {sum(per_shard.values()):,} samples in {len(shards)} shards")
    return reports


def _root_type(root_key, sets) -> str:
    return sets[root_key[0]][0]


def _roots_of(element, sets):
    """A node row -> its root key (sample set, id) for each sample set it roots."""
    (node_type, node), (_, _, has_label) = element
    for index, (root_type, labeled) in enumerate(sets):
        if root_type == node_type and (labeled is None or labeled == has_label):
            yield (index, node)


def _label_counts(uri: str) -> tuple[int, int]:
    """(labeled, unlabeled) nodes of a nodes file, read a row group at a time."""
    labeled = total = 0
    with storage.open_read(uri) as stream:
        file = pq.ParquetFile(stream)
        for i in range(file.num_row_groups):
            labels = read_labels(file.read_row_group(i, columns=["label"])["label"])
            labeled += int(labelled(labels).sum())
            total += len(labels)
    return labeled, total - labeled
