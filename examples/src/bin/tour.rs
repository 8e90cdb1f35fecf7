//! A tour of every crate on embedded defaults: no AWS, no emulator.

fn main() {
    println!("== haystack-core");
    println!(
        "  `siteRef` is a tag name: {}",
        haystack_core::is_tag_name("siteRef")
    );
    println!("== haystack-zinc");
    println!("  Zinc media type: {}", haystack_zinc::MIME_TYPE);
    println!("== package-database");
    println!(
        "  spec id of `My_Spec.Name`: {}",
        package_database::canonicalize_name("My_Spec.Name")
    );
    println!("== datasource-sdk");
    println!(
        "  default batch limits: {:?}",
        datasource_sdk::BatchLimits::default()
    );
    println!("== cart-core");
    println!(
        "  `../etc/passwd` is a safe bundle path: {}",
        cart_core::is_safe_bundle_path("../etc/passwd")
    );
}
