pub async fn metadata_suite(_s: &dyn crate::MetadataStore) {}
