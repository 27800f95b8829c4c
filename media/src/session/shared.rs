//! The relay table of a node, shared by the two parties that use it: the anchoring state
//! machines (which set sessions up, update and end them, on the signaling tasks) and the relay
//! driver (which looks up every batch of packets, on its reader tasks). One `Table` behind one
//! lock; nothing else is shared between them.

use super::{Table, TableConfig};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone)]
pub struct SharedTable(Arc<Mutex<Table>>);

impl SharedTable {
    pub fn new(config: TableConfig) -> SharedTable {
        SharedTable(Arc::new(Mutex::new(Table::new(config))))
    }

    pub fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while the table was held is a bug already reported; the relay keeps going
        // with the table as it is rather than taking every call down with it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
