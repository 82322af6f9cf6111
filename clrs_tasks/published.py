"""Published CLRS-30 out-of-distribution test scores (%, n = 64), as the EvoPrompting paper tabulates them
(Chen et al. 2023, from Ibarz et al. 2022: 10 seeds, 10,000 steps, training size 16): per algorithm, the
Triplet-GMPNN baseline and the best EvoPrompting model."""

from __future__ import annotations

SCORES = {  # algorithm: (Triplet-GMPNN, best EvoPrompting model)
    "activity_selector": (95.18, 95.05), "articulation_points": (88.32, 93.46),
    "bellman_ford": (97.39, 97.50), "bfs": (99.73, 99.99),
    "binary_search": (77.58, 77.98), "bridges": (93.99, 97.57),
    "bubble_sort": (67.68, 88.87), "dag_shortest_paths": (98.19, 98.01),
    "dfs": (47.79, 68.14), "dijkstra": (96.05, 97.30),
    "find_maximum_subarray_kadane": (76.36, 75.35), "floyd_warshall": (48.52, 61.43),
    "graham_scan": (93.62, 93.76), "heapsort": (31.04, 69.90),
    "insertion_sort": (78.14, 89.47), "jarvis_march": (91.01, 90.36),
    "kmp_matcher": (19.51, 16.29), "lcs_length": (80.51, 85.75),
    "matrix_chain_order": (91.68, 90.77), "minimum": (97.78, 98.40),
    "mst_kruskal": (89.80, 91.47), "mst_prim": (86.39, 88.74),
    "naive_string_matcher": (78.67, 79.77), "optimal_bst": (73.77, 78.66),
    "quickselect": (0.47, 0.79), "quicksort": (64.64, 85.23),
    "segments_intersect": (97.64, 98.15), "strongly_connected_components": (43.43, 41.86),
    "task_scheduling": (87.25, 88.23), "topological_sort": (87.27, 88.12),
}
TRIPLET_GMPNN = {a: s[0] for a, s in SCORES.items()}
EVOPROMPTING = {a: s[1] for a, s in SCORES.items()}
