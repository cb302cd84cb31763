"""Upstream, unpartitioned assets per graph: the graph source and its enumeration."""


from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from gnn_assets.graph.demo import generate_homogeneous_demo_graph, generate_typed_demo_graph
from gnn_assets.graph.enumerated_layout import edge_type_name
from gnn_assets.graph.enumeration import enumerate_deployment_graph, summarize_deployment_source
from gnn_assets.graph.source import has_graph_source, write_graph_source
from gnn_assets.lib.resources import WAREHOUSE_POOL, GnnDeployment
from gnn_assets.jobs.unenumerate import load_node_id_mappings

# Every graph asset carries this tag: refresh_graphs selects by it.
GRAPH_TAG = {"gnn_assets/role": "graph"}
# Demo graphs are generated (seeded) when materialized; any other graph is read where it lies.
DEMO_GRAPHS = {"demo_typed": generate_typed_demo_graph, "demo_homogeneous": generate_homogeneous_demo_graph}


def graph_group(graph_name: str) -> str:
    """Each graph's assets in a group of their own, so that global lineage tells the graphs apart."""
    return f"graph_{graph_name}"


def graph_source_key(graph_name: str) -> AssetKey:
    return AssetKey([graph_name, "graph_source"])


def node_id_mapping_key(graph_name: str) -> AssetKey:
    return AssetKey([graph_name, "node_id_mapping"])


def graph_source_missing(layout, graph_name: str) -> bool:
    """A graph that is not a demo graph and has no source where its name says it is (a misspelt graphName)."""
    return graph_name not in DEMO_GRAPHS and not has_graph_source(layout.graph_source_dir(graph_name))


def build_graph_assets(graph_name: str, warehouse_kind: str, layout) -> list[AssetsDefinition]:
    """A graph with no source where its name says it is (not yet, or a misspelt name) is flagged in the UI."""
    missing = graph_source_missing(layout, graph_name)
    warning = (
        f"NO GRAPH SOURCE FOUND for '{graph_name}' in {layout.graph_source_dir(graph_name)}: check the name, or put "
        "the source in place; materializing fails until then. "
        if missing
        else ""
    )
    tags = {**GRAPH_TAG, **({"gnn_assets/graph_source": "missing"} if missing else {})}

    @asset(
        key=graph_source_key(graph_name),
        group_name=graph_group(graph_name),
        kinds={"parquet"},
        tags=tags,
        description=warning
        + (
            f"The {graph_name} graph as handed in: nodes.parquet (string node_id, node_type, features, label) and "
            "edges.parquet (src, dst, edge_type, src_type, dst_type), or folders nodes/ and edges/ of Parquet shards, "
            "and graph_metadata.yaml; counted here, checked where node_id_mapping enumerates it. Demo graphs are "
            "generated with a fixed seed where no source lies yet."
        ),
    )
    def graph_source(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        directory = deployment.resources().layout.graph_source_dir(graph_name)
        if graph_name in DEMO_GRAPHS and has_graph_source(directory):
            # Made by `gnn-assets demo-graph` (perhaps with another --num_nodes) or an earlier run: kept.
            context.log.info(f"demo graph {graph_name}: using the source already in {directory} (delete it to regenerate)")
        elif graph_name in DEMO_GRAPHS:
            write_graph_source(directory, DEMO_GRAPHS[graph_name]())
            context.log.info(f"generated demo graph {graph_name} in {directory}")
        # Counted by aggregate queries, not read whole: the checks run where it is enumerated.
        summary = summarize_deployment_source(deployment.resources(), graph_name)
        return MaterializeResult(
            metadata={
                "uri": MetadataValue.path(directory),
                "nodes": sum(summary.nodes_per_type.values()),
                "edges": sum(summary.edges_per_type.values()),
                "nodes_per_type": summary.nodes_per_type,
                # Keyed like the enumeration's report: relation names may repeat across node-type pairs.
                "edges_per_type": {edge_type_name(key): n for key, n in summary.edges_per_type.items()},
                "files": summary.files,
                "size_bytes": summary.size_bytes,
            }
        )

    @asset(
        key=node_id_mapping_key(graph_name),
        deps=[graph_source],
        pool=WAREHOUSE_POOL,
        group_name=graph_group(graph_name),
        tags=GRAPH_TAG,
        kinds={warehouse_kind, "parquet"},
        description=(
            f"Enumeration of {graph_name}, as GiGL's Data Preprocessor does it: per node type, original ids map to "
            "int_id = ROW_NUMBER() OVER (ORDER BY node_id) - 1. Writes the enumerated graph the sampler reads and "
            "loads one mapping table (node_id, int_id) per node type into the warehouse."
        ),
    )
    def node_id_mapping(context: AssetExecutionContext, deployment: GnnDeployment) -> MaterializeResult:
        resources = deployment.resources()
        report = enumerate_deployment_graph(resources, graph_name)
        tables = load_node_id_mappings(deployment.warehouse(), resources, graph_name, list(report.nodes))
        return MaterializeResult(
            metadata={
                "mapping_tables": tables,
                "nodes_per_type": report.nodes,
                "edges_per_type": report.edges,
                "duplicate_edges_dropped": report.duplicate_edges_dropped,
                "enumeration_engine": {"duckdb": "DuckDB SQL, out of core", "bigquery": "BigQuery SQL"}.get(report.engine, report.engine),
                "source_files": report.source_files,
                "enumerated_bytes": MetadataValue.int(report.enumerated_bytes),
                "dagster/row_count": sum(report.nodes.values()),
                "dagster/column_schema": TableSchema(
                    columns=[
                        TableColumn("node_id", "string", description="original node id"),
                        TableColumn("int_id", "int64", description="enumerated id, 0..n-1 per node type"),
                    ]
                ),
                "enumerated_graph_uri": MetadataValue.path(resources.layout.enumerated_graph_dir(graph_name)),
            }
        )

    return [graph_source, node_id_mapping]
