// Placeholder entry point until the command-line front end lands.
return 0;
