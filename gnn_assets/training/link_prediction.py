"""Node-anchor link prediction: the supervision edges are positives, seeded random destinations
negatives, binary cross-entropy on dot products of the two ends' embeddings; a seeded share of
the positives is held out for validation (recall@10 among every destination node), with early
stopping on it."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from gnn_assets.config.task_config import TaskConfig, TaskKind
from gnn_assets.graph.enumeration import EnumeratedGraph
from gnn_assets.training.evaluation import recall_at_k
from gnn_assets.training.protocol import TrainingError, TrainingResult, int_arg
from gnn_assets.training.sampled import EarlyStopping, SampledTrainer, optimize, report_epoch


class LinkPredictionTrainer(SampledTrainer):
    """trainerArgs: as NodeClassificationTrainer's, plus edges_per_epoch (positives sampled per
    epoch, default 20000) and negatives (per positive, default 1)."""

    def __init__(self, edges_per_epoch: str = "20000", negatives: str = "1", **args: str):
        super().__init__(**args)
        self.edges_per_epoch = int_arg("edges_per_epoch", edges_per_epoch)
        self.negatives = int_arg("negatives", negatives)

    def train(self, config: TaskConfig, graph: EnumeratedGraph, inferencer, device: torch.device, progress) -> TrainingResult:
        if config.task_kind is not TaskKind.LINK_PREDICTION:
            raise TrainingError(f"{config.origin}: LinkPredictionTrainer needs a nodeAnchorBasedLinkPredictionTaskMetadata task")
        settings = self.settings
        edge = config.proto.task_metadata.node_anchor_based_link_prediction_task_metadata.supervision_edge_types[0]
        src_type, dst_type = edge.src_node_type, edge.dst_node_type
        src, dst = graph.edges[(src_type, edge.relation, dst_type)]
        if len(src) < 2:
            raise TrainingError(f"graph {config.graph_name!r}: {len(src)} supervision edges; training needs edges")
        model, batches = self.prepare(config, graph, inferencer, device)
        rng = np.random.default_rng(settings.seed)
        shuffled = rng.permutation(len(src))
        cut = max(1, min(int(len(src) * settings.validation_fraction), 2000))
        validation, training = shuffled[:cut], shuffled[cut:]
        all_dst = np.arange(graph.num_nodes(dst_type))
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        stopping, history, started = EarlyStopping(settings.patience), [], time.monotonic()
        model.train()
        for epoch in range(1, settings.epochs + 1):
            order = rng.permutation(training)[: self.edges_per_epoch]
            total, count = 0.0, 0
            for start in range(0, len(order), settings.batch_size):
                edges = order[start : start + settings.batch_size]
                negatives = rng.integers(0, len(all_dst), len(edges) * self.negatives)
                sources, source_index = np.unique(src[edges], return_inverse=True)
                targets, target_index = np.unique(np.concatenate([dst[edges], negatives]), return_inverse=True)
                source_emb = inferencer.embed(batches.collate(src_type, sources, rng), device)[torch.from_numpy(source_index)]
                target_emb = inferencer.embed(batches.collate(dst_type, targets, rng), device)[torch.from_numpy(target_index)]
                positive = (source_emb * target_emb[: len(edges)]).sum(-1)
                negative = (source_emb.repeat(self.negatives, 1) * target_emb[len(edges) :]).sum(-1)
                scores = torch.cat([positive, negative])
                wanted = torch.cat([torch.ones_like(positive), torch.zeros_like(negative)])
                loss = F.binary_cross_entropy_with_logits(scores, wanted)
                total, count = total + optimize(optimizer, loss) * len(edges), count + len(edges)
            recall = self._validation_recall(inferencer, batches, src_type, dst_type, src[validation], dst[validation], all_dst, device, rng)
            history.append(report_epoch(progress, epoch, settings.epochs, total / count, "recall@10", recall.value, started))
            if stopping.update(epoch, recall.value, model):
                progress(f"stopping early: validation recall@10 has not improved for {settings.patience} epochs")
                break
        metrics = {
            "validation_recall@10": stopping.best,
            "validation_random_baseline": min(1.0, 10 / len(all_dst)),
            "best_epoch": stopping.best_epoch,
            "epochs": len(history),
            "training_edges": len(training),
            "validation_edges": len(validation),
            "seconds": round(time.monotonic() - started, 2),
        }
        return TrainingResult(stopping.best_state, metrics, history)

    def _validation_recall(self, inferencer, batches, src_type, dst_type, val_src, val_dst, all_dst, device, rng):
        sources, index = np.unique(val_src, return_inverse=True)
        source_emb = self.embed_all(inferencer, batches, src_type, sources, device, rng).cpu().numpy()[index]
        target_emb = self.embed_all(inferencer, batches, dst_type, all_dst, device, rng).cpu().numpy()
        return recall_at_k(source_emb, target_emb, val_dst, "validation edges")
