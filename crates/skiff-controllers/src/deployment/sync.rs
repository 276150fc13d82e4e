//! One Deployment sync as a pure function: from the Deployment, the ReplicaSets it owns
//! and (for Recreate) their pods, the ordered list of writes upstream's controller would
//! make. The planner applies each write to its own copy of the state as it goes, so a
//! later step sees an earlier one's result, exactly as upstream's sequence of API calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::util::*;
use crate::claims;
use crate::pods::PodInfo;
use crate::selector::Selector;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateReplicaSet(ReplicaSet),
    /// Replace the ReplicaSet (spec and metadata) with this one.
    UpdateReplicaSet(ReplicaSet),
    DeleteReplicaSet(String),
    /// Set the Deployment's revision annotation.
    SetRevision(String),
    UpdateStatus(DeploymentStatus),
    Event { type_: &'static str, reason: &'static str, message: String },
    RequeueAfter(Duration),
}

/// Pods by the uid of the ReplicaSet controlling them.
pub type PodMap = HashMap<String, Vec<Arc<PodInfo>>>;

struct Planner<'a> {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    pods: &'a PodMap,
    now: Timestamp,
    written_status: DeploymentStatus,
    actions: Vec<Action>,
}

/// The writes one sync of `d` makes, given the ReplicaSets it owns.
pub fn plan(d: &Deployment, rss: Vec<ReplicaSet>, pods: &PodMap, now: Timestamp) -> Vec<Action> {
    let mut p = Planner { d: d.clone(), rss, pods, now, written_status: status_of(d), actions: Vec::new() };
    p.sync();
    p.actions
}

fn name_of(rs: &ReplicaSet) -> String {
    rs.metadata.name.clone().unwrap_or_default()
}

fn is_active(rs: &ReplicaSet) -> bool {
    rs_replicas(rs) > 0
}

impl Planner<'_> {
    fn event(&mut self, type_: &'static str, reason: &'static str, message: String) {
        self.actions.push(Action::Event { type_, reason, message });
    }

    fn status(&self) -> DeploymentStatus {
        status_of(&self.d)
    }

    fn set_status(&mut self, s: DeploymentStatus) {
        self.d.status = Some(s);
    }

    /// Writes the local status if it differs from what was last written.
    fn write_status(&mut self) {
        let s = self.status();
        if s != self.written_status {
            self.written_status = s.clone();
            self.actions.push(Action::UpdateStatus(s));
        }
    }

    fn spec_paused(&self) -> bool {
        self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
    }

    fn sync(&mut self) {
        let spec = self.d.spec.clone().unwrap_or_default();
        if matches!(Selector::from_label_selector(Some(&spec.selector)), Ok(s) if s.is_everything()) {
            self.event("Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.".into());
            let mut s = self.status();
            let generation = self.d.metadata.generation.unwrap_or(0);
            if s.observed_generation.unwrap_or(0) < generation {
                s.observed_generation = Some(generation);
                self.set_status(s);
                self.write_status();
            }
            return;
        }
        if self.d.metadata.deletion_timestamp.is_some() {
            let new = self.get_new_rs(false);
            return self.sync_deployment_status(new);
        }
        self.check_paused_conditions();
        if self.spec_paused() || self.is_scaling_event() {
            return self.scale_sync();
        }
        if is_rolling_update(&self.d) {
            self.rollout_rolling()
        } else {
            self.rollout_recreate()
        }
    }

    /// Indices of the ReplicaSets other than `new`.
    fn olds(&self, new: Option<usize>) -> Vec<usize> {
        (0..self.rss.len()).filter(|i| Some(*i) != new).collect()
    }

    /// The oldest ReplicaSet whose template is the Deployment's.
    fn find_new(&self) -> Option<usize> {
        let t = d_template(&self.d);
        let mut idx: Vec<usize> = (0..self.rss.len()).collect();
        idx.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        idx.into_iter().find(|i| equal_ignore_hash(&template_of(&self.rss[*i]), &t))
    }

    fn d_min_ready(&self) -> i32 {
        self.d.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }

    /// Upstream `getNewReplicaSet`: finds (and annotates) or creates the new ReplicaSet and
    /// syncs the Deployment's revision.
    fn get_new_rs(&mut self, create: bool) -> Option<usize> {
        let existing = self.find_new();
        let max_old = max_revision(self.olds(existing).iter().map(|i| &self.rss[*i]));
        let new_revision = (max_old + 1).to_string();
        if let Some(i) = existing {
            let mut copy = self.rss[i].clone();
            let annotations_updated = set_new_rs_annotations(&self.d, &mut copy, &new_revision, true);
            let min_ready = self.d_min_ready();
            let min_ready_update = copy.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0) != min_ready;
            if annotations_updated || min_ready_update {
                copy.spec.get_or_insert_with(Default::default).min_ready_seconds = Some(min_ready);
                self.rss[i] = copy.clone();
                self.actions.push(Action::UpdateReplicaSet(copy));
                return Some(i);
            }
            let rev = copy.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).cloned().unwrap_or_default();
            if set_deployment_revision(&mut self.d, &rev) {
                self.actions.push(Action::SetRevision(rev));
            }
            if has_progress_deadline(&self.d) && get_condition(&self.status(), "Progressing").is_none() {
                let mut s = self.status();
                set_condition(&mut s, new_condition("Progressing", "True", FOUND_NEW_RS_REASON, &format!("Found new replica set \"{}\"", name_of(&copy)), self.now));
                self.set_status(s);
                self.write_status();
            }
            return Some(i);
        }
        if !create {
            return None;
        }
        let template = d_template(&self.d);
        let collision = self.status().collision_count;
        let hash = compute_hash(&template, collision);
        let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        labels.insert(HASH_LABEL.into(), hash.clone());
        let mut selector = self.d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        selector.match_labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash.clone());
        let mut new_template = template.clone();
        new_template.metadata.get_or_insert_with(Default::default).labels = Some(labels.clone());
        let name = format!("{}-{hash}", self.d.metadata.name.as_deref().unwrap_or(""));
        let d_uid = self.d.metadata.uid.clone().unwrap_or_default();
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![claims::controller_ref("apps/v1", "Deployment", self.d.metadata.name.as_deref().unwrap_or(""), &d_uid)]),
                labels: Some(labels),
                creation_timestamp: Some(Time(crate::clock::truncate(self.now))),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(0), min_ready_seconds: Some(self.d_min_ready()), selector, template: Some(new_template) }),
            status: None,
        };
        let replicas = {
            let olds: Vec<&ReplicaSet> = self.rss.iter().chain(std::iter::once(&rs)).collect();
            new_rs_new_replicas(&self.d, &olds, &rs)
        };
        set_rs_replicas(&mut rs, replicas);
        set_new_rs_annotations(&self.d, &mut rs, &new_revision, false);
        self.actions.push(Action::CreateReplicaSet(rs.clone()));
        if replicas > 0 {
            self.event("Normal", "ScalingReplicaSet", format!("Scaled up replica set {name} from 0 to {replicas}"));
        }
        if set_deployment_revision(&mut self.d, &new_revision) {
            self.actions.push(Action::SetRevision(new_revision));
        }
        if has_progress_deadline(&self.d) {
            let mut s = self.status();
            set_condition(&mut s, new_condition("Progressing", "True", NEW_RS_REASON, &format!("Created new replica set \"{name}\""), self.now));
            self.set_status(s);
            self.write_status();
        }
        self.rss.push(rs);
        Some(self.rss.len() - 1)
    }

    /// Upstream `scaleReplicaSet`: size and replica annotations; true if the size changed.
    fn scale_rs(&mut self, i: usize, new_scale: i32, op: &str) -> bool {
        let desired = d_replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let rs = &self.rss[i];
        let old = rs_replicas(rs);
        let size_needs = old != new_scale;
        if !size_needs && !replicas_annotations_need_update(rs, desired, max) {
            return false;
        }
        let mut copy = rs.clone();
        set_rs_replicas(&mut copy, new_scale);
        set_replicas_annotations(&mut copy, desired, max);
        self.rss[i] = copy.clone();
        self.actions.push(Action::UpdateReplicaSet(copy));
        if size_needs {
            let name = name_of(&self.rss[i]);
            self.event("Normal", "ScalingReplicaSet", format!("Scaled {op} replica set {name} from {old} to {new_scale}"));
        }
        size_needs
    }

    fn scale_and_record(&mut self, i: usize, new_scale: i32) -> bool {
        let cur = rs_replicas(&self.rss[i]);
        if cur == new_scale {
            return false;
        }
        let op = if cur < new_scale { "up" } else { "down" };
        self.scale_rs(i, new_scale, op)
    }

    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(&self.d) {
            return;
        }
        let s = self.status();
        let cond = get_condition(&s, "Progressing");
        if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            return;
        }
        let paused_exists = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_REASON));
        let paused = self.spec_paused();
        let c = if paused && !paused_exists {
            new_condition("Progressing", "Unknown", PAUSED_REASON, "Deployment is paused", self.now)
        } else if !paused && paused_exists {
            new_condition("Progressing", "Unknown", RESUMED_REASON, "Deployment is resumed", self.now)
        } else {
            return;
        };
        let mut s = s.clone();
        set_condition(&mut s, c);
        self.set_status(s);
        self.write_status();
    }

    fn is_scaling_event(&mut self) -> bool {
        let new = self.get_new_rs(false);
        let desired = d_replicas(&self.d);
        let mut all = self.olds(new);
        all.extend(new);
        all.iter().map(|i| &self.rss[*i]).filter(|rs| is_active(rs)).any(|rs| desired_replicas_annotation(rs).is_some_and(|v| v != desired))
    }

    /// Upstream `sync`: scaling events and paused Deployments.
    fn scale_sync(&mut self) {
        let new = self.get_new_rs(false);
        let olds = self.olds(new);
        self.scale(new, &olds);
        let rollback = self.d.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ROLLBACK_TO));
        if self.spec_paused() && !rollback {
            self.cleanup(&olds);
        }
        self.sync_deployment_status(new);
    }

    fn find_active_or_latest(&self, new: Option<usize>, olds: &[usize]) -> Option<usize> {
        if new.is_none() && olds.is_empty() {
            return None;
        }
        let mut sorted = olds.to_vec();
        sorted.sort_by(|a, b| by_creation(&self.rss[*b], &self.rss[*a]));
        let mut all: Vec<usize> = sorted.iter().copied().chain(new).filter(|i| is_active(&self.rss[*i])).collect();
        match all.len() {
            0 => new.or_else(|| sorted.first().copied()),
            1 => all.pop(),
            _ => None,
        }
    }

    /// Proportional scaling (upstream `scale`).
    fn scale(&mut self, new: Option<usize>, olds: &[usize]) {
        let desired = d_replicas(&self.d);
        if let Some(i) = self.find_active_or_latest(new, olds) {
            if rs_replicas(&self.rss[i]) != desired {
                self.scale_and_record(i, desired);
            }
            return;
        }
        if is_saturated(&self.d, new.map(|i| &self.rss[i])) {
            let active: Vec<usize> = olds.iter().copied().filter(|i| is_active(&self.rss[*i])).collect();
            for i in active {
                self.scale_and_record(i, 0);
            }
            return;
        }
        if !is_rolling_update(&self.d) {
            return;
        }
        let mut all: Vec<usize> = olds.iter().copied().chain(new).filter(|i| is_active(&self.rss[*i])).collect();
        let all_replicas = sum_replicas(all.iter().map(|i| &self.rss[*i]));
        let allowed = if desired > 0 { desired + max_surge(&self.d) } else { 0 };
        let to_add = allowed - all_replicas;
        let op = if to_add > 0 {
            all.sort_by(|a, b| by_size_newer(&self.rss[*a], &self.rss[*b]));
            "up"
        } else if to_add < 0 {
            all.sort_by(|a, b| by_size_older(&self.rss[*a], &self.rss[*b]));
            "down"
        } else {
            ""
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for &i in &all {
            let rs = &self.rss[i];
            if to_add != 0 {
                let p = get_proportion(rs, &self.d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        for (k, &i) in all.iter().enumerate() {
            if k == 0 && to_add != 0 {
                sizes[0] = (sizes[0] + to_add - added).max(0);
            }
            self.scale_rs(i, sizes[k], op);
        }
    }

    /// Deletes old ReplicaSets beyond revisionHistoryLimit (oldest revisions first), only
    /// those scaled to zero and settled.
    fn cleanup(&mut self, olds: &[usize]) {
        let Some(limit) = revision_history_limit(&self.d) else { return };
        let mut cleanable: Vec<&ReplicaSet> = olds.iter().map(|i| &self.rss[*i]).filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| by_revision(a, b));
        let mut deletes = Vec::new();
        for rs in cleanable.into_iter().take(diff as usize) {
            let (status_replicas, _, _) = rs_status(rs);
            let observed = rs.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
            if status_replicas != 0 || rs_replicas(rs) != 0 || rs.metadata.generation.unwrap_or(0) > observed {
                continue;
            }
            deletes.push(name_of(rs));
        }
        self.actions.extend(deletes.into_iter().map(Action::DeleteReplicaSet));
    }

    fn calculate_status(&self, new: Option<usize>) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = self.rss.iter().collect();
        let available: i32 = all.iter().map(|rs| rs_status(rs).2).sum();
        let total = sum_replicas(all.iter().copied());
        let unavailable = (total - available).max(0);
        let old = self.status();
        let nz = |n: i32| (n != 0).then_some(n);
        let mut s = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: nz(all.iter().map(|rs| rs_status(rs).0).sum()),
            updated_replicas: nz(new.map(|i| rs_status(&self.rss[i]).0).unwrap_or(0)),
            ready_replicas: nz(all.iter().map(|rs| rs_status(rs).1).sum()),
            available_replicas: nz(available),
            unavailable_replicas: nz(unavailable),
            collision_count: old.collision_count,
            conditions: old.conditions.clone(),
            terminating_replicas: None,
        };
        if available >= d_replicas(&self.d) - max_unavailable(&self.d) {
            set_condition(&mut s, new_condition("Available", "True", MIN_AVAILABLE_REASON, "Deployment has minimum availability.", self.now));
        } else {
            set_condition(&mut s, new_condition("Available", "False", MIN_UNAVAILABLE_REASON, "Deployment does not have minimum availability.", self.now));
        }
        s
    }

    fn sync_deployment_status(&mut self, new: Option<usize>) {
        let s = self.calculate_status(new);
        self.set_status(s);
        self.write_status();
    }

    /// Status with the Progressing condition (upstream `syncRolloutStatus`).
    fn sync_rollout_status(&mut self, new: Option<usize>) {
        let mut s = self.calculate_status(new);
        let deadline = has_progress_deadline(&self.d);
        if !deadline {
            remove_condition(&mut s, "Progressing");
        }
        let current = get_condition(&self.status(), "Progressing").cloned();
        let complete_before = n(s.replicas) == n(s.updated_replicas) && current.as_ref().is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        let d_name = self.d.metadata.name.clone().unwrap_or_default();
        let what = |verb: &str| match new {
            Some(i) => format!("ReplicaSet \"{}\" {verb}", name_of(&self.rss[i])),
            None => format!("Deployment \"{d_name}\" {verb}"),
        };
        if deadline && !complete_before {
            if deployment_complete(&self.d, &s) {
                set_condition(&mut s, new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, &what("has successfully progressed."), self.now));
            } else if deployment_progressing(&self.d, &s) {
                let mut c = new_condition("Progressing", "True", RS_UPDATED_REASON, &what("is progressing."), self.now);
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut s, "Progressing");
                }
                set_condition(&mut s, c);
            } else if deployment_timed_out(&self.d, &s, self.now) {
                set_condition(&mut s, new_condition("Progressing", "False", TIMED_OUT_REASON, &what("has timed out progressing."), self.now));
            }
        }
        match self.replica_failure(new) {
            Some(c) => set_condition(&mut s, c),
            None => remove_condition(&mut s, "ReplicaFailure"),
        }
        if s == self.status() {
            if let Some(after) = self.requeue_stuck(&s) {
                self.actions.push(Action::RequeueAfter(after));
            }
            return;
        }
        self.set_status(s);
        self.write_status();
    }

    fn replica_failure(&self, new: Option<usize>) -> Option<DeploymentCondition> {
        let failure = |rs: &ReplicaSet| {
            rs.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == "ReplicaFailure")).map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                last_transition_time: c.last_transition_time.clone(),
                last_update_time: c.last_transition_time.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
        };
        new.and_then(|i| failure(&self.rss[i])).or_else(|| self.rss.iter().find_map(failure))
    }

    /// When to look again for a progress deadline, if the rollout is under way.
    fn requeue_stuck(&self, s: &DeploymentStatus) -> Option<Duration> {
        let current = self.status();
        let cond = get_condition(&current, "Progressing")?;
        if !has_progress_deadline(&self.d) || deployment_complete(&self.d, s) || cond.reason.as_deref() == Some(TIMED_OUT_REASON) {
            return None;
        }
        let deadline = i64::from(self.d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
        let from = cond.last_update_time.as_ref()?.0;
        let after = (from + jiff::SignedDuration::from_secs(deadline)).duration_since(self.now);
        if after < jiff::SignedDuration::from_secs(1) {
            return Some(Duration::from_secs(1));
        }
        Some(Duration::from_secs(after.as_secs() as u64 + 1))
    }

    fn rollout_rolling(&mut self) {
        let new = self.get_new_rs(true);
        let Some(new_i) = new else { return };
        if self.reconcile_new(new_i) {
            return self.sync_rollout_status(new);
        }
        let active_olds: Vec<usize> = self.olds(new).into_iter().filter(|i| is_active(&self.rss[*i])).collect();
        if self.reconcile_olds(&active_olds, new_i) {
            return self.sync_rollout_status(new);
        }
        if deployment_complete(&self.d, &self.status()) {
            let olds = self.olds(new);
            self.cleanup(&olds);
        }
        self.sync_rollout_status(new);
    }

    fn reconcile_new(&mut self, new: usize) -> bool {
        let desired = d_replicas(&self.d);
        let cur = rs_replicas(&self.rss[new]);
        if cur == desired {
            return false;
        }
        if cur > desired {
            return self.scale_and_record(new, desired);
        }
        let count = {
            let all: Vec<&ReplicaSet> = self.rss.iter().collect();
            new_rs_new_replicas(&self.d, &all, &self.rss[new])
        };
        self.scale_and_record(new, count)
    }

    fn reconcile_olds(&mut self, olds: &[usize], new: usize) -> bool {
        let old_pods = sum_replicas(olds.iter().map(|i| &self.rss[*i]));
        if old_pods == 0 {
            return false;
        }
        let all_pods = sum_replicas(self.rss.iter());
        let min_available = d_replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable = rs_replicas(&self.rss[new]) - rs_status(&self.rss[new]).2;
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        let cleaned = self.cleanup_unhealthy(olds, max_scaled_down);
        let scaled = self.scale_down_olds_rolling(olds, new);
        cleaned + scaled > 0
    }

    /// Scales down old ReplicaSets by their unavailable replicas first.
    fn cleanup_unhealthy(&mut self, olds: &[usize], max_cleanup: i32) -> i32 {
        let mut sorted = olds.to_vec();
        sorted.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let mut total = 0;
        for i in sorted {
            if total >= max_cleanup {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            let available = rs_status(&self.rss[i]).2;
            if replicas == 0 || replicas == available {
                continue;
            }
            let down = (max_cleanup - total).min(replicas - available);
            self.scale_and_record(i, replicas - down);
            total += down;
        }
        total
    }

    /// Scales down old ReplicaSets as far as maxUnavailable allows.
    fn scale_down_olds_rolling(&mut self, olds: &[usize], new: usize) -> i32 {
        let min_available = d_replicas(&self.d) - max_unavailable(&self.d);
        let available: i32 = olds.iter().chain(std::iter::once(&new)).map(|i| rs_status(&self.rss[*i]).2).sum();
        if available <= min_available {
            return 0;
        }
        let mut sorted = olds.to_vec();
        sorted.sort_by(|a, b| by_creation(&self.rss[*a], &self.rss[*b]));
        let total_down = available - min_available;
        let mut done = 0;
        for i in sorted {
            if done >= total_down {
                break;
            }
            let replicas = rs_replicas(&self.rss[i]);
            if replicas == 0 {
                continue;
            }
            let down = replicas.min(total_down - done);
            self.scale_and_record(i, replicas - down);
            done += down;
        }
        done
    }

    fn old_pods_running(&self, new: Option<usize>, olds: &[usize]) -> bool {
        if olds.iter().map(|i| rs_status(&self.rss[*i]).0).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new.and_then(|i| self.rss[i].metadata.uid.clone());
        self.pods
            .iter()
            .filter(|(uid, _)| Some(*uid) != new_uid.as_ref())
            .any(|(_, pods)| pods.iter().any(|p| p.phase != "Failed" && p.phase != "Succeeded"))
    }

    fn rollout_recreate(&mut self) {
        let mut new = self.get_new_rs(false);
        let olds = self.olds(new);
        let mut scaled = false;
        let active: Vec<usize> = olds.iter().copied().filter(|i| is_active(&self.rss[*i])).collect();
        for i in active {
            scaled |= self.scale_and_record(i, 0);
        }
        if scaled || self.old_pods_running(new, &olds) {
            return self.sync_rollout_status(new);
        }
        if new.is_none() {
            new = self.get_new_rs(true);
        }
        if let Some(i) = new {
            self.scale_and_record(i, d_replicas(&self.d));
        }
        if deployment_complete(&self.d, &self.status()) {
            let olds = self.olds(new);
            self.cleanup(&olds);
        }
        self.sync_rollout_status(new);
    }
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use serde_json::json;

    fn ios(s: &str) -> IntOrString {
        match s.parse::<i32>() {
            Ok(i) => IntOrString::Int(i),
            Err(_) => IntOrString::String(s.into()),
        }
    }

    fn template(image: &str) -> k8s_openapi::api::core::v1::PodTemplateSpec {
        serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}})).unwrap()
    }

    fn deployment(replicas: i32, strategy: &str, surge: &str, unavailable: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta { name: Some("web".into()), namespace: Some("default".into()), uid: Some("d-uid".into()), generation: Some(1), ..Default::default() },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector { match_labels: Some([("app".to_string(), "web".to_string())].into()), ..Default::default() },
                strategy: Some(DeploymentStrategy {
                    type_: Some(strategy.into()),
                    rolling_update: (strategy == "RollingUpdate").then(|| RollingUpdateDeployment { max_surge: Some(ios(surge)), max_unavailable: Some(ios(unavailable)) }),
                }),
                template: template("nginx:1.14"),
                revision_history_limit: Some(10),
                progress_deadline_seconds: Some(600),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A fake cluster: the planner's writes applied, and a ReplicaSet controller plus
    /// kubelet that make pods of healthy images available at once.
    struct World {
        d: Deployment,
        rss: Vec<ReplicaSet>,
        t: i64,
        uid: u32,
        broken: Vec<&'static str>,
        events: Vec<String>,
        pods: PodMap,
    }

    impl World {
        fn new(d: Deployment) -> World {
            World { d, rss: Vec::new(), t: 0, uid: 0, broken: Vec::new(), events: Vec::new(), pods: PodMap::new() }
        }

        fn now(&self) -> Timestamp {
            Timestamp::from_second(1_700_000_000 + self.t).unwrap()
        }

        fn set_image(&mut self, image: &str) {
            let spec = self.d.spec.as_mut().unwrap();
            spec.template = template(image);
            self.bump();
        }

        fn bump(&mut self) {
            self.d.metadata.generation = Some(self.d.metadata.generation.unwrap_or(1) + 1);
        }

        /// One sync; returns the writes (events and requeues excluded).
        fn sync(&mut self) -> Vec<Action> {
            self.t += 1;
            let actions = plan(&self.d, self.rss.clone(), &self.pods, self.now());
            let mut writes = Vec::new();
            for a in actions {
                match a.clone() {
                    Action::CreateReplicaSet(mut rs) => {
                        self.uid += 1;
                        rs.metadata.uid = Some(format!("rs-{}", self.uid));
                        rs.metadata.generation = Some(1);
                        rs.metadata.creation_timestamp = Some(Time(self.now()));
                        assert!(self.rss.iter().all(|r| r.metadata.name != rs.metadata.name), "duplicate {:?}", rs.metadata.name);
                        self.rss.push(rs);
                    }
                    Action::UpdateReplicaSet(rs) => {
                        let i = self.rss.iter().position(|r| r.metadata.name == rs.metadata.name).expect("exists");
                        let mut rs = rs;
                        if rs.spec != self.rss[i].spec {
                            rs.metadata.generation = Some(self.rss[i].metadata.generation.unwrap_or(1) + 1);
                        }
                        self.rss[i] = rs;
                    }
                    Action::DeleteReplicaSet(name) => self.rss.retain(|r| r.metadata.name.as_deref() != Some(&name)),
                    Action::SetRevision(r) => {
                        self.d.metadata.annotations.get_or_insert_with(Default::default).insert(REVISION.into(), r);
                    }
                    Action::UpdateStatus(s) => self.d.status = Some(s),
                    Action::Event { message, .. } => {
                        self.events.push(message);
                        continue;
                    }
                    Action::RequeueAfter(_) => continue,
                }
                writes.push(a);
            }
            writes
        }

        fn kubelet(&mut self) {
            for rs in &mut self.rss {
                let r = rs_replicas(rs);
                let image = template_of(rs).spec.unwrap().containers[0].image.clone().unwrap_or_default();
                let healthy = if self.broken.contains(&image.as_str()) { 0 } else { r };
                let nz = |n: i32| (n != 0).then_some(n);
                rs.status = Some(ReplicaSetStatus {
                    replicas: r,
                    ready_replicas: nz(healthy),
                    available_replicas: nz(healthy),
                    fully_labeled_replicas: nz(r),
                    observed_generation: rs.metadata.generation,
                    conditions: None,
                    terminating_replicas: None,
                });
            }
        }

        fn total(&self) -> i32 {
            sum_replicas(self.rss.iter())
        }

        fn available(&self) -> i32 {
            self.rss.iter().map(|rs| rs_status(rs).2).sum()
        }

        /// Syncs until nothing is written, checking the rolling-update bounds at each step.
        fn settle(&mut self, check: bool) {
            let desired = d_replicas(&self.d);
            let (surge, unavailable) = (max_surge(&self.d), max_unavailable(&self.d));
            for _ in 0..100 {
                let writes = self.sync();
                if check {
                    assert!(self.total() <= desired + surge, "{} pods > {desired} + {surge}: {:?}", self.total(), self.sizes());
                }
                self.kubelet();
                if check {
                    assert!(self.available() >= desired - unavailable, "{} available < {desired} - {unavailable}: {:?}", self.available(), self.sizes());
                }
                if writes.is_empty() {
                    return;
                }
            }
            panic!("did not settle: {:?}", self.sizes());
        }

        fn sizes(&self) -> Vec<(String, i32, Option<i64>)> {
            self.rss.iter().map(|rs| (name_of(rs), rs_replicas(rs), revision(rs))).collect()
        }

        fn condition(&self, type_: &str) -> (String, String) {
            let s = status_of(&self.d);
            let c = get_condition(&s, type_).expect(type_);
            (c.status.clone(), c.reason.clone().unwrap_or_default())
        }
    }

    #[test]
    fn first_rollout_creates_a_hashed_replica_set() {
        let mut w = World::new(deployment(3, "RollingUpdate", "25%", "25%"));
        w.settle(false);
        assert_eq!(w.rss.len(), 1);
        let rs = &w.rss[0];
        let hash = rs.metadata.labels.as_ref().unwrap()[HASH_LABEL].clone();
        assert_eq!(name_of(rs), format!("web-{hash}"));
        assert_eq!(rs.spec.as_ref().unwrap().selector.match_labels.as_ref().unwrap()[HASH_LABEL], hash);
        assert_eq!(template_of(rs).metadata.unwrap().labels.unwrap()[HASH_LABEL], hash);
        assert_eq!(rs.metadata.owner_references.as_ref().unwrap()[0].kind, "Deployment");
        assert_eq!(rs_replicas(rs), 3);
        assert_eq!(revision(rs), Some(1));
        let s = status_of(&w.d);
        assert_eq!((s.replicas, s.updated_replicas, s.available_replicas, s.ready_replicas, s.unavailable_replicas), (Some(3), Some(3), Some(3), Some(3), None));
        assert_eq!(w.condition("Available"), ("True".into(), MIN_AVAILABLE_REASON.into()));
        assert_eq!(w.condition("Progressing"), ("True".into(), NEW_RS_AVAILABLE_REASON.into()));
        assert_eq!(w.d.metadata.annotations.as_ref().unwrap()[REVISION], "1");
        assert!(w.events.contains(&format!("Scaled up replica set web-{hash} from 0 to 3")), "{:?}", w.events);
    }

    #[test]
    fn rolling_update_stays_within_surge_and_unavailability() {
        for (replicas, surge, unavailable) in [(10, "25%", "25%"), (3, "1", "0"), (4, "0", "1"), (10, "50%", "0"), (5, "2", "2"), (1, "25%", "25%"), (2, "0", "1%")] {
            let mut w = World::new(deployment(replicas, "RollingUpdate", surge, unavailable));
            w.settle(false);
            w.set_image("nginx:1.16");
            w.settle(true);
            assert_eq!(w.rss.len(), 2, "{replicas} {surge} {unavailable}");
            let new = w.rss.iter().find(|rs| revision(rs) == Some(2)).expect("revision 2");
            assert_eq!(rs_replicas(new), replicas);
            assert_eq!(w.total(), replicas, "old scaled to 0 and kept for rollback: {:?}", w.sizes());
            assert_eq!(w.condition("Progressing"), ("True".into(), NEW_RS_AVAILABLE_REASON.into()));
            assert_eq!(w.d.metadata.annotations.as_ref().unwrap()[REVISION], "2");
            let s = status_of(&w.d);
            assert_eq!(s.observed_generation, Some(2));
            assert_eq!(s.updated_replicas, Some(replicas));
        }
    }

    #[test]
    fn rollover_steps_of_the_upstream_example() {
        // 10 replicas, maxSurge 3, maxUnavailable 2: new RS to 3, old to 8 in one sync.
        let mut w = World::new(deployment(10, "RollingUpdate", "3", "2"));
        w.settle(false);
        w.set_image("nginx:1.16");
        w.sync();
        let mut sizes: Vec<i32> = w.rss.iter().map(rs_replicas).collect();
        sizes.sort();
        assert_eq!(sizes, [3, 8]);
        assert_eq!(w.condition("Progressing"), ("True".into(), NEW_RS_REASON.into()));
        w.kubelet();
        w.sync();
        assert_eq!(w.condition("Progressing"), ("True".into(), RS_UPDATED_REASON.into()));
    }

    #[test]
    fn recreate_scales_old_to_zero_before_creating_new() {
        let mut w = World::new(deployment(3, "Recreate", "", ""));
        w.settle(false);
        let old_uid = w.rss[0].metadata.uid.clone().unwrap();
        w.set_image("nginx:1.16");
        // Old pods still exist: scaled down, no new ReplicaSet yet.
        w.pods.insert(old_uid.clone(), vec![Arc::new(PodInfo { phase: "Running".into(), ..Default::default() })]);
        w.sync();
        assert_eq!(w.rss.len(), 1);
        assert_eq!(rs_replicas(&w.rss[0]), 0);
        w.kubelet();
        w.sync();
        assert_eq!(w.rss.len(), 1, "still waiting for the old pod to go");
        w.pods.clear();
        w.settle(false);
        assert_eq!(w.rss.len(), 2);
        assert_eq!(w.total(), 3);
    }

    #[test]
    fn proportional_scaling_during_a_stuck_rollout() {
        let mut w = World::new(deployment(10, "RollingUpdate", "3", "2"));
        w.settle(false);
        w.broken.push("nginx:broken");
        w.set_image("nginx:broken");
        w.settle(true);
        let size = |w: &World, rev| w.rss.iter().find(|rs| revision(rs) == Some(rev)).map(rs_replicas);
        assert_eq!((size(&w, 1), size(&w, 2)), (Some(8), Some(5)));
        w.d.spec.as_mut().unwrap().replicas = Some(15);
        w.bump();
        w.sync();
        assert_eq!((size(&w, 1), size(&w, 2)), (Some(11), Some(7)), "3 to the old, 2 to the new");
        // And back down to 5.
        w.kubelet();
        w.d.spec.as_mut().unwrap().replicas = Some(5);
        w.bump();
        w.sync();
        let total = size(&w, 1).unwrap() + size(&w, 2).unwrap();
        assert_eq!(total, 5 + 3, "5 replicas + maxSurge 3: {:?}", w.sizes());
    }

    #[test]
    fn rollback_reuses_the_old_replica_set_with_the_next_revision() {
        let mut w = World::new(deployment(3, "RollingUpdate", "25%", "25%"));
        w.settle(false);
        w.set_image("nginx:1.16");
        w.settle(true);
        assert_eq!(w.rss.len(), 2);
        // kubectl rollout undo: the template of revision 1, without the hash label.
        let old = w.rss.iter().find(|rs| revision(rs) == Some(1)).unwrap().clone();
        let mut t = template_of(&old);
        t.metadata.as_mut().unwrap().labels.as_mut().unwrap().remove(HASH_LABEL);
        w.d.spec.as_mut().unwrap().template = t;
        w.bump();
        w.settle(true);
        assert_eq!(w.rss.len(), 2, "no new ReplicaSet: {:?}", w.sizes());
        let back = w.rss.iter().find(|rs| rs.metadata.name == old.metadata.name).unwrap();
        assert_eq!(revision(back), Some(3));
        assert_eq!(back.metadata.annotations.as_ref().unwrap()[REVISION_HISTORY], "1");
        assert_eq!(rs_replicas(back), 3);
        assert_eq!(w.d.metadata.annotations.as_ref().unwrap()[REVISION], "3");
    }

    #[test]
    fn revision_history_limit_deletes_the_oldest() {
        let mut d = deployment(2, "RollingUpdate", "1", "0");
        d.spec.as_mut().unwrap().revision_history_limit = Some(2);
        let mut w = World::new(d);
        w.settle(false);
        for v in ["1.1", "1.2", "1.3", "1.4", "1.5"] {
            w.set_image(&format!("nginx:{v}"));
            w.settle(true);
        }
        let mut revs: Vec<i64> = w.rss.iter().filter_map(revision).collect();
        revs.sort();
        assert_eq!(revs, [4, 5, 6], "the new one and two old ones");
    }

    #[test]
    fn paused_deployments_scale_but_do_not_roll_out() {
        let mut w = World::new(deployment(3, "RollingUpdate", "25%", "25%"));
        w.settle(false);
        w.d.spec.as_mut().unwrap().paused = Some(true);
        w.settle(false);
        assert_eq!(w.condition("Progressing"), ("Unknown".into(), PAUSED_REASON.into()));
        w.set_image("nginx:1.16");
        w.settle(false);
        assert_eq!(w.rss.len(), 1, "no rollout while paused");
        w.d.spec.as_mut().unwrap().replicas = Some(5);
        w.settle(false);
        assert_eq!(rs_replicas(&w.rss[0]), 5, "scaling works while paused");
        w.d.spec.as_mut().unwrap().paused = Some(false);
        w.settle(true);
        assert_eq!(w.rss.len(), 2);
        assert_eq!(w.condition("Progressing"), ("True".into(), NEW_RS_AVAILABLE_REASON.into()));
    }

    #[test]
    fn progress_deadline_exceeded() {
        let mut d = deployment(2, "RollingUpdate", "1", "0");
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(30);
        let mut w = World::new(d);
        w.settle(false);
        w.broken.push("nginx:broken");
        w.set_image("nginx:broken");
        w.settle(true);
        assert_eq!(w.condition("Progressing"), ("True".into(), RS_UPDATED_REASON.into()));
        // While nothing moves the controller asks to look again at the deadline.
        let actions = plan(&w.d, w.rss.clone(), &w.pods, w.now());
        assert!(actions.iter().any(|a| matches!(a, Action::RequeueAfter(d) if *d <= Duration::from_secs(31))), "{actions:?}");
        w.t += 60;
        w.settle(true);
        assert_eq!(w.condition("Progressing"), ("False".into(), TIMED_OUT_REASON.into()));
        let s = status_of(&w.d);
        let c = get_condition(&s, "Progressing").unwrap();
        assert!(c.message.as_deref().unwrap().ends_with("has timed out progressing."), "{c:?}");
        // The old pods keep serving.
        assert_eq!(w.available(), 2);
    }

    #[test]
    fn selecting_everything_is_reported_not_acted_on() {
        let mut d = deployment(2, "RollingUpdate", "1", "0");
        d.spec.as_mut().unwrap().selector = LabelSelector::default();
        let actions = plan(&d, Vec::new(), &PodMap::new(), Timestamp::from_second(0).unwrap());
        assert!(matches!(&actions[0], Action::Event { reason: "SelectingAll", .. }));
        assert!(matches!(&actions[1], Action::UpdateStatus(s) if s.observed_generation == Some(1)));
        assert_eq!(actions.len(), 2);
    }
}
