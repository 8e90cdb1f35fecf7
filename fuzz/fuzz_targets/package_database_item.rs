//! Any DynamoDB item given to the package-database item decoders (specs rows, credentials rows,
//! both binary encodings) returns, never panics; whatever decodes re-encodes to an item that
//! decodes equal.
//!
//! The input is an item in DynamoDB's JSON form (`{"sub": {"S": "user-1"}, "model_count":
//! {"N": "3"}, ...}`), so seeds are readable; a `B` value's string is taken as the blob's bytes
//! (the legacy encoding stores base64 text there).
#![no_main]

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use libfuzzer_sys::fuzz_target;
use package_database::BinaryEncoding;
use package_database::dynamo::fuzzing::{self, Item};
use serde_json::Value as Json;

/// Nesting of `L` and `M` values this target builds (DynamoDB allows 32).
const MAX_DEPTH: usize = 32;

fn strings(v: &Json) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn attribute(v: &Json, depth: usize) -> Option<AttributeValue> {
    let obj = v.as_object()?;
    let (kind, inner) = obj.iter().next()?;
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "B" => AttributeValue::B(Blob::new(inner.as_str()?.as_bytes())),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(inner.as_bool()?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            strings(inner)?
                .into_iter()
                .map(|s| Blob::new(s.into_bytes()))
                .collect(),
        ),
        "L" if depth < MAX_DEPTH => AttributeValue::L(
            inner
                .as_array()?
                .iter()
                .map(|x| attribute(x, depth + 1))
                .collect::<Option<_>>()?,
        ),
        "M" if depth < MAX_DEPTH => AttributeValue::M(item(inner, depth + 1)?),
        _ => return None,
    })
}

fn item(v: &Json, depth: usize) -> Option<Item> {
    v.as_object()?
        .iter()
        .map(|(k, x)| Some((k.clone(), attribute(x, depth)?)))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let Some(item) = item(&json, 0) else {
        return;
    };
    if let Ok(spec) = fuzzing::spec_from_item(&item) {
        let again = fuzzing::spec_from_item(&fuzzing::spec_item("user-1", &spec));
        assert_eq!(
            again.ok().as_ref(),
            Some(&spec),
            "spec changed when re-encoded"
        );
    }
    for encoding in [BinaryEncoding::Legacy, BinaryEncoding::Plain] {
        let info = fuzzing::credentials_from_item(&item, encoding);
        let user = fuzzing::user_from_item(&item, encoding);
        if let (Ok(info), Ok(user)) = (info, user) {
            let encoded = fuzzing::credentials_item(&info, &user, encoding);
            let info_again = fuzzing::credentials_from_item(&encoded, encoding);
            let user_again = fuzzing::user_from_item(&encoded, encoding);
            assert_eq!(
                info_again.ok(),
                Some(info),
                "credentials changed when re-encoded"
            );
            assert!(
                user_again.ok() == Some(user),
                "user changed when re-encoded"
            );
        }
    }
});
