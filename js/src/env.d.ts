// Side-effect CSS imports: esbuild emits them as <entry>.css next to the bundle.
declare module "*.css";
