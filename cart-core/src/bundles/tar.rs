//! A cart's tar streamed from a [`BundleStore`]: the same bytes as
//! [`TarPlan::into_stream`](crate::TarPlan::into_stream), each member's bytes read from the
//! store (its staged file, or a range of the pre-built tar).

use super::{BundleStore, Object, exactly};
use crate::archive::ByteStream;
use crate::bundle::{BLOCK, Entry, dir_header_bytes, file_header_bytes, pad};
use crate::{CartUid, Result, TarPlan};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

/// Members opened ahead of the one being sent (their `GET`s in flight), so a tar of many small
/// files is not one round trip per file.
pub(crate) const OPEN_AHEAD: usize = 8;

/// Where a member's bytes are in the store: an object and the offset in it.
pub(crate) type Source = (Object, u64);

enum Item {
    Dir(String),
    File(String, usize),
}

/// The tar of `plan` with member `i`'s bytes read from `sources[i]` of cart `uid`.
pub(crate) fn store_tar_stream(
    plan: TarPlan,
    sources: Vec<Source>,
    bundles: Arc<dyn BundleStore>,
    uid: CartUid,
) -> ByteStream {
    let mut n = 0usize;
    let items: Vec<Item> = plan
        .entries()
        .into_iter()
        .map(|e| match e {
            Entry::Dir(name) => Item::Dir(name),
            Entry::File(name, _) => {
                n += 1;
                Item::File(name, n - 1)
            }
        })
        .collect();
    let plan = Arc::new(plan);
    let sources = Arc::new(sources);
    let fixed = plan.options().fixed_mtime.unwrap_or(0);
    let body = futures::stream::iter(items)
        .map(move |item| {
            let (plan, sources, bundles, uid) = (
                Arc::clone(&plan),
                Arc::clone(&sources),
                Arc::clone(&bundles),
                uid.clone(),
            );
            async move {
                match item {
                    Item::Dir(name) => {
                        let mut h = Vec::with_capacity(BLOCK as usize);
                        dir_header_bytes(&name, fixed, &mut h);
                        let header = Ok::<Bytes, crate::Error>(Bytes::from(h));
                        Ok(futures::stream::iter([header]).boxed())
                    }
                    Item::File(name, i) => {
                        member(&plan, &sources, bundles.as_ref(), &uid, &name, i).await
                    }
                }
            }
        })
        .buffered(OPEN_AHEAD)
        .try_flatten();
    let trailer = futures::stream::iter([Ok::<Bytes, crate::Error>(Bytes::from(vec![
        0u8;
        2 * BLOCK
            as usize
    ]))]);
    body.chain(trailer).boxed()
}

/// Header, bytes and padding of member `i`, its read already started.
async fn member(
    plan: &TarPlan,
    sources: &[Source],
    bundles: &dyn BundleStore,
    uid: &CartUid,
    name: &str,
    i: usize,
) -> Result<ByteStream> {
    let (Some(m), Some(&(object, offset))) = (plan.members().get(i), sources.get(i)) else {
        return Err(crate::Error::invalid("tar plan", format!("no member {i}")));
    };
    let mut h = Vec::with_capacity(BLOCK as usize);
    let fixed = plan.options().fixed_mtime.unwrap_or(0);
    file_header_bytes(name, m.size, (plan.member_mtime(m, None), fixed), &mut h);
    let header = futures::stream::iter([Ok::<Bytes, crate::Error>(Bytes::from(h))]);
    // `pad(size) - size` is below one block.
    let padding = vec![0u8; (pad(m.size) - m.size) as usize];
    let tail = futures::stream::iter((!padding.is_empty()).then(|| Ok(Bytes::from(padding))));
    let data = if m.size == 0 {
        futures::stream::empty().boxed()
    } else {
        let body = bundles.read(uid, object, offset, m.size).await?;
        exactly(body, m.size, m.path.to_string())
    };
    Ok(header.chain(data).chain(tail).boxed())
}
