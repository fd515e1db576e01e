//! The in-memory [`RequestStore`](crate::store::RequestStore).

use async_trait::async_trait;

use super::MemoryStore;
use crate::request::{AuthRequest, RequestState};
use crate::store::{RequestStore, StoreError, StoreResult};
use crate::{DeviceId, RequestId, UnixTime};

#[async_trait]
impl RequestStore for MemoryStore {
    async fn insert_request(&self, q: &AuthRequest, now: UnixTime) -> StoreResult<()> {
        let mut d = self.data();
        // A request that cannot be stored changes nothing (the databases roll its transaction back).
        if d.requests.contains_key(&q.request_id) {
            return Err(StoreError::Conflict("a pending request".into()));
        }
        for r in d.requests.values_mut().filter(|r| r.sub == q.sub && r.state == RequestState::Pending) {
            r.state = if r.expires_at <= now { RequestState::Expired } else { RequestState::Cancelled };
            r.decided_at = Some(now);
        }
        d.requests.insert(q.request_id.clone(), q.clone());
        Ok(())
    }

    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<AuthRequest>> {
        Ok(self.data().requests.get(request_id).cloned())
    }

    async fn recent_requests(&self, sub: &str, since: UnixTime) -> StoreResult<Vec<AuthRequest>> {
        let mut mine: Vec<AuthRequest> =
            self.data().requests.values().filter(|r| r.sub == sub && r.created_at >= since).cloned().collect();
        mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.request_id.cmp(&b.request_id)));
        Ok(mine)
    }

    async fn set_request_state(
        &self,
        request_id: &RequestId,
        from: RequestState,
        to: RequestState,
        at: UnixTime,
        device_id: Option<&DeviceId>,
        unlock: Option<&str>,
    ) -> StoreResult<bool> {
        Ok(match self.data().requests.get_mut(request_id) {
            Some(r) if r.state == from => {
                r.state = to;
                r.decided_at = Some(at);
                r.decided_by = device_id.cloned();
                r.decided_with = unlock.map(str::to_string);
                true
            }
            _ => false,
        })
    }

    async fn pause_requests(&self, sub: &str, until: UnixTime) -> StoreResult<()> {
        let mut d = self.data();
        if d.users.contains_key(sub) {
            d.paused.insert(sub.to_string(), until);
        }
        Ok(())
    }

    async fn requests_paused_until(&self, sub: &str) -> StoreResult<Option<UnixTime>> {
        Ok(self.data().paused.get(sub).copied())
    }
}
