//! meta.k8s.io/v1 Table responses, what `kubectl get` asks for. Rows are written
//! straight into the response buffer: a list of 10,000 pods builds no second tree.

use serde_json::{json, Value};
use skiff_api::registry::Resource;
use skiff_api::table;

/// What each row carries besides its cells (the `includeObject` parameter).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(v: Option<&str>) -> Include {
        match v {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

pub struct TableWriter<'a> {
    resource: &'a Resource,
    include: Include,
    now: jiff::Timestamp,
    out: Vec<u8>,
    rows: usize,
}

impl<'a> TableWriter<'a> {
    /// Starts a Table; `columns` is false for watch events after the first.
    pub fn new(resource: &'a Resource, include: Include, rv: Option<&str>, cont: Option<&str>, columns: bool) -> Self {
        let mut meta = json!({});
        if let Some(rv) = rv {
            meta["resourceVersion"] = json!(rv);
        }
        if let Some(c) = cont {
            meta["continue"] = json!(c);
        }
        let cols = if columns { table::columns(resource.group, resource.kind) } else { Vec::new() };
        let head = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": cols});
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        out.pop();
        out.extend_from_slice(b",\"rows\":[");
        TableWriter { resource, include, now: jiff::Timestamp::now(), out, rows: 0 }
    }

    pub fn row(&mut self, obj: &Value) {
        if self.rows > 0 {
            self.out.push(b',');
        }
        self.rows += 1;
        let cells = table::cells(self.resource.group, self.resource.kind, obj, self.now);
        self.out.extend_from_slice(b"{\"cells\":");
        let _ = serde_json::to_writer(&mut self.out, &cells);
        match self.include {
            Include::None => {}
            Include::Object => {
                self.out.extend_from_slice(b",\"object\":");
                let _ = serde_json::to_writer(&mut self.out, obj);
            }
            Include::Metadata => {
                self.out.extend_from_slice(b",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
                let _ = serde_json::to_writer(&mut self.out, obj.get("metadata").unwrap_or(&Value::Null));
                self.out.push(b'}');
            }
        }
        self.out.push(b'}');
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_table_kubectl_reads() {
        let r = skiff_api::registry::by_kind("", "v1", "ConfigMap").expect("served");
        let mut w = TableWriter::new(r, Include::Metadata, Some("7"), None, true);
        w.row(&json!({"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"}, "data": {"k": "v"}}));
        w.row(&json!({"metadata": {"name": "b"}}));
        let t: Value = serde_json::from_slice(&w.finish()).expect("valid JSON");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["rows"][0]["cells"][0], "a");
        assert_eq!(t["rows"][0]["cells"][1], 1);
        assert_eq!(t["rows"][1]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][1]["object"]["metadata"]["name"], "b");
    }
}
