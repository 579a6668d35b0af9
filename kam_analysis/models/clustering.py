"""Behavioural clusters: k-means on standardised account features, k chosen by silhouette."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from ..metrics import compute_revenue_shares

__all__ = ["ClusteringNotSupported", "compute_clusters"]


class ClusteringNotSupported(ParameterError):
    """The data cannot support clustering (too few accounts, or no feature varies)."""


def compute_clusters(features: pd.DataFrame, *, columns: list[str], k_min: int = 2, k_max: int = 8, seed: int = 0,
                     silhouette_sample: int = 5000, account_col: str = "account_id",
                     feature_labels: dict[str, tuple[str, str, str]] | None = None):
    """Behavioural clusters: k-means on standardised features, k by the best silhouette.

    Each feature is filled with its median where missing and standardised
    (z = (v − mean) / sd). For each k in [k_min, k_max] k-means (10 seeded starts) is fitted
    and the mean silhouette computed (on a seeded sample of ``silhouette_sample``
    accounts); the k with the highest silhouette is kept (the smaller k on a tie).
    Clusters are numbered 1..k by descending mean ``revenue_12m`` (if present) so the
    numbering is stable. Each cluster is labelled by its two most distinctive features
    (largest |mean z| ≥ 0.3), e.g. "high spend, broad range": the wording when high and
    when low comes from ``feature_labels`` (feature -> (name, when high, when low)), else
    "high <feature>" / "low <feature>".

    Returns
    -------
    assignments : DataFrame
        ``account_id, cluster, cluster_label``.
    profiles : DataFrame
        ``cluster, cluster_label, accounts, account_share, revenue_12m, revenue_share``,
        the mean of each feature (``mean_<feature>``) and its mean z-score (``z_<feature>``).
    silhouette : DataFrame
        ``k, silhouette, chosen``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    missing = [c for c in columns if c not in features]
    if missing:
        raise ParameterError(f"segmentation.clusters.features {missing} are not account features; "
                             f"fix: choose from {', '.join(sorted(features.columns))}")
    X = features[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    usable = [c for c in columns if X[c].notna().any() and X[c].std(skipna=True) > 0]
    if not usable:
        raise ClusteringNotSupported("none of segmentation.clusters.features varies across accounts; "
                                     "fix: choose others")
    X = X[usable].fillna(X[usable].median())
    Z = (X - X.mean()) / X.std(ddof=0)
    n = len(Z)
    k_hi = min(k_max, n - 1)
    if k_hi < k_min:
        raise ClusteringNotSupported(f"{n} accounts are too few for {k_min}+ clusters; "
                                     "fix: lower segmentation.clusters.k_min")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, silhouette_sample), replace=False))
    rows, fits = [], {}
    for k in range(k_min, k_hi + 1):
        # one thread: k-means on small frames is far slower with OpenMP threads on a busy machine
        with threadpool_limits(1):
            km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(Z.to_numpy())
        labels = km.labels_
        sil = silhouette_score(Z.to_numpy()[sample], labels[sample]) if len(set(labels[sample])) > 1 else -1.0
        rows.append({"k": k, "silhouette": float(sil)})
        fits[k] = labels
    sil = pd.DataFrame(rows)
    best = int(sil.loc[sil["silhouette"].idxmax(), "k"])
    sil["chosen"] = sil["k"] == best
    labels = fits[best]
    value = features["revenue_12m"].to_numpy(dtype=float) if "revenue_12m" in features else np.zeros(n)
    means = pd.Series(value).groupby(labels).mean().sort_values(ascending=False, kind="stable")
    remap = {old: new for new, old in enumerate(means.index, start=1)}
    cluster = np.array([remap[x] for x in labels])
    zmean = Z.groupby(cluster).mean()
    names = {}
    for c, row in zmean.iterrows():
        top = row.abs().sort_values(ascending=False, kind="stable")
        parts = []
        for feat in top.index[:2]:
            if abs(row[feat]) >= 0.3:
                lab = (feature_labels or {}).get(feat, (feat, f"high {feat}", f"low {feat}"))
                parts.append(lab[1] if row[feat] > 0 else lab[2])
        names[c] = ", ".join(parts).capitalize() if parts else "Average profile"
    assignments = pd.DataFrame({account_col: features[account_col].to_numpy(), "cluster": cluster,
                                "cluster_label": [names[c] for c in cluster]})
    prof = X.groupby(cluster).mean().add_prefix("mean_")
    zc = zmean.add_prefix("z_")
    sh = compute_revenue_shares(pd.DataFrame({"account_id": np.arange(n), "cluster": cluster, "revenue_12m": value}),
                                "cluster")
    out = pd.DataFrame({"cluster": sh.index, "cluster_label": [names[c] for c in sh.index],
                        **{c: sh[c].to_numpy() for c in ("accounts", "account_share", "revenue_12m", "revenue_share")}})
    out = pd.concat([out.reset_index(drop=True), prof.reset_index(drop=True), zc.reset_index(drop=True)], axis=1)
    return assignments, out, sil
