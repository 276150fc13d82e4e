//! NodeResourcesBalancedAllocation: prefers nodes whose CPU and memory would be used in
//! similar proportions after placing the pod: `(1 - std) * 100` of the two requested
//! fractions. It counts actual requests (no defaults), and skips pods that request
//! neither CPU nor memory (upstream v1.33), which would otherwise pile onto one node.

use super::CycleState;
use crate::framework::MAX_NODE_SCORE;

/// upstream `balancedResourceScorer` over (requested, allocatable) pairs.
pub fn balanced_score(pairs: &[(i64, i64)]) -> i64 {
    let mut fractions = [0f64; 2];
    let mut n = 0;
    for &(requested, allocatable) in pairs.iter().take(2) {
        if allocatable == 0 {
            continue;
        }
        fractions[n] = (requested as f64 / allocatable as f64).min(1.0);
        n += 1;
    }
    // With two resources the standard deviation is half their difference; with one
    // there is none.
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// `None` for a best-effort pod (the plugin is skipped).
pub(crate) fn score(cs: &CycleState<'_>, feasible: &[u32]) -> Option<Vec<i64>> {
    let pod = cs.pod;
    if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
        return None;
    }
    Some(
        feasible
            .iter()
            .map(|&slot| {
                let node = cs.snapshot.node(slot);
                balanced_score(&[
                    (
                        node.requested.milli_cpu + pod.requests.milli_cpu,
                        node.allocatable.milli_cpu,
                    ),
                    (
                        node.requested.memory + pod.requests.memory,
                        node.allocatable.memory,
                    ),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plugins::testutil::{bound, node, pod, slots, with_cycle};
    use crate::snapshot::Snapshot;

    #[test]
    fn balanced_score_formula() {
        assert_eq!(balanced_score(&[(1, 4), (2, 8)]), 100);
        // fractions 0.5 and 0.0 -> std 0.25 -> 75.
        assert_eq!(balanced_score(&[(2, 4), (0, 8)]), 75);
        // fractions are capped at 1.
        assert_eq!(balanced_score(&[(8, 4), (0, 8)]), 50);
        // A resource the node lacks is ignored; one fraction has no deviation.
        assert_eq!(balanced_score(&[(3, 4), (5, 0)]), 100);
    }

    #[test]
    fn balanced_prefers_even_usage_and_skips_best_effort() {
        let mut s = Snapshot::new();
        s.upsert_node(node("cpu-heavy", "4", "8Gi", json!({})));
        s.upsert_node(node("even", "4", "8Gi", json!({})));
        s.upsert_pod(bound(
            pod("old", json!({}), "3", "", json!({})),
            "cpu-heavy",
        ));
        let p = pod("p", json!({}), "1", "2Gi", json!({}));
        let nodes = slots(&s, &["cpu-heavy", "even"]);
        // cpu-heavy: cpu 4/4 = 1, mem 0.25 -> std 0.375 -> 62; even: 0.25/0.25 -> 100.
        assert_eq!(
            with_cycle(&s, &p, |cs| score(cs, &nodes)),
            Some(vec![62, 100])
        );
        let best_effort = pod("p", json!({}), "", "", json!({}));
        assert_eq!(with_cycle(&s, &best_effort, |cs| score(cs, &nodes)), None);
    }
}
