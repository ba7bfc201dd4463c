pub async fn blob_suite(_s: &dyn crate::BlobStore) {}
